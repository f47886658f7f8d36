// Unit checks of the client's pure functions, run in Chromium by
// TestClientModules: (async (base) => [...failures]) with base the
// versioned static prefix.
async (base) => {
  const failures = [];
  const eq = (what, got, want) => {
    if (JSON.stringify(got) !== JSON.stringify(want)) failures.push(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  };
  const { roomFromInput } = await import(`${base}/js/roomid.js`);
  const o = 'https://meet.example.org';
  eq('code', roomFromInput('abcd-efghi-jklm', o), 'abcd-efghi-jklm');
  eq('spaced upper-case code', roomFromInput('  ABCD EFGHI JKLM ', o), 'abcd-efghi-jklm');
  eq('link', roomFromInput('https://meet.example.org/abcd-efghi-jklm', o), 'abcd-efghi-jklm');
  eq('link with query', roomFromInput('https://meet.example.org/abcd-efghi-jklm/?x=1#y', o), 'abcd-efghi-jklm');
  eq('path', roomFromInput('/abc-def', o), 'abc-def');
  eq('garbage', roomFromInput('not a code!', o), '');
  eq('one letter', roomFromInput('a', o), '');
  eq('javascript', roomFromInput('javascript:alert(1)', o), '');
  eq('empty', roomFromInput('   ', o), '');

  const { linkify } = await import(`${base}/js/chat.js`);
  const render = (text) => {
    const p = document.createElement('p');
    p.append(...linkify(text));
    return { text: p.textContent, links: [...p.querySelectorAll('a')].map((a) => a.getAttribute('href')), html: p.children.length };
  };
  eq('sentence link', render('see https://a.example/x.'), { text: 'see https://a.example/x.', links: ['https://a.example/x'], html: 1 });
  eq('bracketed link', render('(https://a.example/(b))'), { text: '(https://a.example/(b))', links: ['https://a.example/(b)'], html: 1 });
  eq('two links', render('http://a.example and https://b.example/?q=1&r=2!'), { text: 'http://a.example and https://b.example/?q=1&r=2!', links: ['http://a.example/', 'https://b.example/?q=1&r=2'], html: 2 });
  eq('other schemes', render('ftp://x.example javascript:alert(1) data:text/html,<b>x</b>'), { text: 'ftp://x.example javascript:alert(1) data:text/html,<b>x</b>', links: [], html: 0 });
  eq('markup', render('<img src=x onerror=alert(1)>'), { text: '<img src=x onerror=alert(1)>', links: [], html: 0 });

  const { layerFor, bestGrid } = await import(`${base}/js/stage.js`);
  eq('layers', [layerFor(0), layerFor(300), layerFor(361), layerFor(720), layerFor(721), layerFor(2000)], ['low', 'low', 'medium', 'medium', 'high', 'high']);
  eq('layer caps', [layerFor(2000, 'medium'), layerFor(2000, 'low'), layerFor(300, 'medium')], ['medium', 'low', 'low']);
  const g = (n, w, h) => { const x = bestGrid(n, w, h); return [x.cols, x.rows]; };
  eq('grid 1', g(1, 1000, 500), [1, 1]);
  eq('grid 4 wide', g(4, 1600, 900), [2, 2]);
  eq('grid 3 very wide', g(3, 1600, 300), [3, 1]);
  eq('grid 3 phone', g(3, 320, 600), [1, 3]);
  eq('grid 16', g(16, 1920, 1080), [4, 4]);

  const { levelOf, QualityMonitor, deltaOf, repairHeadroom } = await import(`${base}/js/quality.js`);
  {
    // A clean stream keeps the browser's own buffer; the first NACK gives
    // it two round trips and 50 ms, within 100-400 ms; a freeze while so
    // adds 100 ms, a freeze alone nothing; it never shrinks while NACKs go
    // on and is dropped 20 s after the last.
    const steps = [];
    let st;
    for (const [nacks, freezes, rtt, now] of [[0, 0, 100, 0], [3, 0, 100, 2000], [0, 1, 20, 4000], [0, 0, 300, 10000],
      [5, 0, 300, 12000], [0, 0, 300, 31000], [0, 0, 300, 32000], [0, 2, 10, 34000], [0, 1, 10, 36000], [4, 0, 10, 38000],
      [0, 1, 10, 40000], [2, 1, 10, 42000], [0, 1, 10, 62500]]) {
      st = repairHeadroom(st, nacks, freezes, rtt, now);
      steps.push(st.target);
    }
    eq('repair headroom', steps, [0, 250, 350, 350, 400, 400, 0, 0, 0, 100, 200, 300, 0]);
  }
  eq('deltas', [deltaOf(undefined, { lost: 0, received: 10 }), deltaOf({ lost: 1, received: 10 }, { lost: 3, received: 110 }),
    deltaOf({ lost: 1, received: 2000 }, { lost: 0, received: 40 })],
  [{ lost: 0, received: 0, restarted: true }, { lost: 2, received: 100, restarted: false }, { lost: 0, received: 0, restarted: true }]);
  eq('levels', [levelOf(0, 0), levelOf(0.05, 0), levelOf(0.2, 0), levelOf(0, 0.05), levelOf(0, 0.5)], ['good', 'fair', 'poor', 'fair', 'poor']);
  const m = Object.assign(Object.create(QualityMonitor.prototype), { cap: 'high', bad: 0, good: 0 });
  const caps = [];
  for (const [loss, rtt] of [[0.1, 0], [0.1, 0], [0.1, 0], [0, 0.6], [0.2, 0], [0.2, 0], [0, 0]]) {
    m.adjustCap(loss, rtt);
    caps.push(m.cap);
  }
  eq('cap falls with loss and delay', caps, ['high', 'medium', 'medium', 'low', 'low', 'low', 'low']);
  for (let i = 0; i < 9; i++) m.adjustCap(0, 0.05);
  eq('cap rises after 20 s clean', m.cap, 'medium');

  const { msidByMid } = await import(`${base}/js/peers.js`);
  const sdp = 'v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=msid:s1 tA\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=msid:s1 tV\r\nm=video 0 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\n';
  eq('msid', [...msidByMid(sdp)], [['0', 'tA'], ['1', 'tV']]);

  const { validName } = await import(`${base}/js/prejoin.js`);
  eq('names', [validName(''), validName('x'.repeat(65)), validName('a\u202eb'), validName('a\u0007'), validName('  Ada Lovelace ')],
    [{ error: 'nameRequired' }, { error: 'nameTooLong' }, { error: 'nameInvalid' }, { error: 'nameInvalid' }, { name: 'Ada Lovelace' }]);
  eq('64 emoji fit', validName('👍'.repeat(64)), { name: '👍'.repeat(64) });

  const { applyCaption, expireLines } = await import(`${base}/js/captions.js`);
  {
    // The server's own order for one utterance (seen in TestBrowserCaptions):
    // partials dated from the utterance's start, the final from its first word.
    const cap = (id, start, end, final, text) => ({ speaker_id: id, speaker_name: id === 'A' ? 'Ada' : 'Bob', start, end, final, text });
    const show = (lines) => lines.map((l) => `${l.name}${l.final ? '' : '…'} ${l.text}`);
    let l = [];
    l = applyCaption(l, cap('A', 1.25, 1.75, false, 'ever'), 0);
    l = applyCaption(l, cap('A', 1.25, 2.25, false, 'everyone'), 1);
    eq('partial updated in place', show(l), ['Ada… everyone']);
    l = applyCaption(l, cap('B', 1.5, 2.0, false, 'yes'), 2);
    l = applyCaption(l, cap('A', 1.36, 2.09, true, 'hello everyone'), 3);
    eq('final replaces its partials, lines by start', show(l), ['Ada hello everyone', 'Bob… yes']);
    l = applyCaption(l, cap('A', 2.13, 2.6, false, 'there'), 4);
    eq('next utterance is a new line', show(l), ['Ada hello everyone', 'Bob… yes', 'Ada… there']);
    l = applyCaption(l, cap('B', 1.5, 2.1, true, ''), 5);
    eq('empty final withdraws the partial', show(l), ['Ada hello everyone', 'Ada… there']);
    l = applyCaption(l, cap('A', 2.2, 3.5, true, "there's only one item"), 6);
    l = applyCaption(l, cap('B', 3.0, 3.5, false, 'ok'), 7);
    l = applyCaption(l, cap('A', 4.0, 4.5, false, 'today'), 8);
    eq('three lines at most, oldest out', show(l), ["Ada there's only one item", 'Bob… ok', 'Ada… today']);
    l = applyCaption(l, cap('A', 0.5, 0.9, true, 'late'), 9);
    eq('a final older than every line shown is dropped', show(l), ["Ada there's only one item", 'Bob… ok', 'Ada… today']);
    eq('markup stays text', applyCaption([], cap('A', 0, 1, true, ' <b>x</b> '), 0)[0].text, '<b>x</b>');
    eq('final lines expire, partials wait for their final', show(expireLines(l, 6 + 8_000)), ['Bob… ok', 'Ada… today']);
  }

  const { speakersOf } = await import(`${base}/js/sharedmic.js`);
  eq('people sharing a microphone', ['3', '2', '20', '21', '1', '', 'x', '2.5', '-4'].map(speakersOf), [3, 2, 20, 0, 0, 0, 0, 0, 0]);
  const { micSharing } = await import(`${base}/js/room.js`);
  const { transcriptURL } = await import(`${base}/js/api.js`);
  eq('shared_mic fields', [micSharing({ shared: false, speakers: 3 }), micSharing({ shared: true, speakers: 0 }), micSharing({ shared: true, speakers: 4 })],
    [{ shared_mic: false }, { shared_mic: true }, { shared_mic: true, speakers: 4 }]);
  eq('transcript link', transcriptURL('MT_a b', 'vtt'), '/api/meetings/MT_a%20b/transcript?format=vtt');

  const { clock, duration } = await import(`${base}/js/docs.js`);
  eq('clock', [clock(0), clock(61.9), clock(3725), clock(-3)], ['0:00', '1:01', '1:02:05', '0:00']);
  eq('duration', [duration(40), duration(720), duration(3900)], ['40 s', '12 min', '1 h 05 min']);

  const { tn, t } = await import(`${base}/js/i18n.js`);
  eq('plural', [tn('participantCount', 1), tn('participantCount', 2), tn('participantCount', 0)], ['1 participant', '2 participants', '0 participants']);
  eq('placeholder', t('joinedToast', { name: 'Ada' }), 'Ada joined');
  return failures;
}
