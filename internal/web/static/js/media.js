// Local media: the camera and microphone (with the user's device
// choices, remembered in localStorage), screen capture, and a
// microphone level meter.

import { store } from './storage.js';

// 1280x720 at up to 24 fps feeds the three simulcast layers (320, 640 and
// 1280 pixels wide); browsers lower it on weak machines themselves.
const VIDEO = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 24, max: 30 } };
const AUDIO = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

// Kinds of failure the page explains to the user.
export const MediaError = Object.freeze({
  DENIED: 'denied', // permission refused (by the user or a policy)
  NO_DEVICE: 'nodevice',
  IN_USE: 'inuse', // another application holds the device
  INSECURE: 'insecure', // no https: the browser hides devices
  OTHER: 'other',
});

function classify(err) {
  switch (err && err.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return MediaError.DENIED;
    case 'NotFoundError':
    case 'OverconstrainedError':
      return MediaError.NO_DEVICE;
    case 'NotReadableError':
    case 'AbortError':
      return MediaError.IN_USE;
    default:
      return MediaError.OTHER;
  }
}

function constraint(base, deviceId) {
  return deviceId ? { ...base, deviceId: { exact: deviceId } } : { ...base };
}

export class LocalMedia extends EventTarget {
  constructor() {
    super();
    this.mic = null;
    this.camera = null;
    this.micOn = store.get('micOn', true);
    this.cameraOn = store.get('cameraOn', true);
    this.errors = { audio: null, video: null };
    this.devices = { audioinput: [], videoinput: [], audiooutput: [] };
    this.choice = {
      audioinput: store.get('audioinput', ''),
      videoinput: store.get('videoinput', ''),
      audiooutput: store.get('audiooutput', ''),
    };
    if (navigator.mediaDevices) {
      navigator.mediaDevices.addEventListener('devicechange', () => this.refreshDevices());
    }
  }

  get supported() { return !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia); }

  // start opens the devices the user wants on. Failures are recorded in
  // this.errors and never thrown: without devices the user joins to
  // listen and watch.
  async start() {
    if (!this.supported) {
      const kind = window.isSecureContext ? MediaError.NO_DEVICE : MediaError.INSECURE;
      this.errors = { audio: kind, video: kind };
      this.changed();
      return;
    }
    const wantAudio = true; // the microphone stays open (muted or not) for the level meter
    const wantVideo = this.cameraOn;
    try {
      const s = await navigator.mediaDevices.getUserMedia({
        audio: constraint(AUDIO, this.choice.audioinput),
        video: wantVideo ? constraint(VIDEO, this.choice.videoinput) : false,
      });
      this.adopt(s);
      this.errors = { audio: null, video: null };
    } catch (err) {
      const kind = classify(err);
      if (kind === MediaError.DENIED) {
        this.errors = { audio: kind, video: kind };
      } else {
        // One device may be missing or busy: try each alone.
        await this.openMic();
        if (wantVideo) await this.openCamera();
      }
    }
    await this.refreshDevices();
    this.changed();
  }

  adopt(stream) {
    for (const t of stream.getTracks()) {
      if (t.kind === 'audio') this.setMic(t);
      else this.setCamera(t);
    }
  }

  setMic(track) {
    if (this.mic && this.mic !== track) this.mic.stop();
    this.mic = track;
    if (track) {
      track.enabled = this.micOn;
      track.addEventListener('ended', () => { if (this.mic === track) { this.mic = null; this.changed(); } });
    }
  }

  setCamera(track) {
    if (this.camera && this.camera !== track) this.camera.stop();
    this.camera = track;
    if (track) {
      track.contentHint = 'motion';
      track.addEventListener('ended', () => { if (this.camera === track) { this.camera = null; this.changed(); } });
    }
  }

  async openMic(deviceId = this.choice.audioinput) {
    try {
      const s = await navigator.mediaDevices.getUserMedia({ audio: constraint(AUDIO, deviceId) });
      this.setMic(s.getAudioTracks()[0]);
      this.errors.audio = null;
      return this.mic;
    } catch (err) {
      if (deviceId && classify(err) === MediaError.NO_DEVICE) return this.openMic(''); // the saved device is gone
      this.errors.audio = classify(err);
      return null;
    } finally {
      this.changed();
    }
  }

  async openCamera(deviceId = this.choice.videoinput) {
    try {
      const s = await navigator.mediaDevices.getUserMedia({ video: constraint(VIDEO, deviceId) });
      this.setCamera(s.getVideoTracks()[0]);
      this.errors.video = null;
      return this.camera;
    } catch (err) {
      if (deviceId && classify(err) === MediaError.NO_DEVICE) return this.openCamera('');
      this.errors.video = classify(err);
      return null;
    } finally {
      this.changed();
    }
  }

  // setMicOn mutes or unmutes the microphone track (it stays open, so
  // unmuting is instant).
  setMicOn(on) {
    this.micOn = on;
    store.set('micOn', on);
    if (this.mic) this.mic.enabled = on;
    this.changed();
  }

  // setCameraOn opens or releases the camera (released, its light goes off).
  async setCameraOn(on) {
    this.cameraOn = on;
    store.set('cameraOn', on);
    if (on && !this.camera) await this.openCamera();
    if (!on && this.camera) {
      this.camera.stop();
      this.camera = null;
    }
    this.changed();
    return this.camera;
  }

  async choose(kind, deviceId) {
    this.choice[kind] = deviceId;
    store.set(kind, deviceId);
    if (kind === 'audioinput' && this.mic) await this.openMic(deviceId);
    if (kind === 'videoinput' && this.camera) await this.openCamera(deviceId);
    this.dispatchEvent(new CustomEvent('device', { detail: { kind } }));
    this.changed();
  }

  async refreshDevices() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return;
    const list = await navigator.mediaDevices.enumerateDevices().catch(() => []);
    const out = { audioinput: [], videoinput: [], audiooutput: [] };
    for (const d of list) {
      if (out[d.kind] && d.deviceId) out[d.kind].push(d);
    }
    this.devices = out;
    this.dispatchEvent(new Event('devices'));
  }

  // currentDevice returns the id of the device in use for a kind.
  currentDevice(kind) {
    const t = kind === 'audioinput' ? this.mic : kind === 'videoinput' ? this.camera : null;
    if (t) return t.getSettings().deviceId || '';
    return this.choice[kind] || '';
  }

  changed() { this.dispatchEvent(new Event('change')); }

  stop() {
    if (this.mic) this.mic.stop();
    if (this.camera) this.camera.stop();
    this.mic = null;
    this.camera = null;
  }
}

// canShareScreenAudio tells whether this browser can share a tab's or
// the screen's sound with the picture: Chromium can (and says so by
// knowing the constraints that go with it); Firefox and Safari share
// the picture only, so they are not asked for sound (and the user is
// told).
export function canShareScreenAudio() {
  const c = navigator.mediaDevices && navigator.mediaDevices.getSupportedConstraints ? navigator.mediaDevices.getSupportedConstraints() : {};
  return !!(c.suppressLocalAudioPlayback || c.restrictOwnAudio);
}

// captureScreen asks the user for a screen, window or tab, with its
// audio where the browser offers it (Chromium: tab and system audio).
export async function captureScreen() {
  const stream = await navigator.mediaDevices.getDisplayMedia({
    video: { frameRate: { ideal: 15, max: 30 } },
    audio: canShareScreenAudio(),
    systemAudio: 'include',
    selfBrowserSurface: 'exclude',
    surfaceSwitching: 'include',
  });
  const video = stream.getVideoTracks()[0] || null;
  if (video) video.contentHint = 'detail'; // keep text sharp rather than frames smooth
  return { video, audio: stream.getAudioTracks()[0] || null };
}

// LevelMeter calls onLevel(0..1) about 15 times a second with the level of
// an audio track (an RMS in dBFS mapped from -60..0 to 0..1).
export class LevelMeter {
  constructor(onLevel) {
    this.onLevel = onLevel;
    this.ctx = null;
    this.source = null;
    this.timer = null;
    this.track = null;
  }

  attach(track) {
    if (track === this.track) return;
    this.detach();
    this.track = track;
    if (!track || !window.AudioContext) return;
    if (!this.ctx) this.ctx = new AudioContext();
    // A context made before any user gesture starts suspended.
    if (this.ctx.state === 'suspended') {
      const resume = () => this.ctx && this.ctx.resume();
      resume();
      window.addEventListener('pointerdown', resume, { once: true });
      window.addEventListener('keydown', resume, { once: true });
    }
    this.source = this.ctx.createMediaStreamSource(new MediaStream([track]));
    const analyser = this.ctx.createAnalyser();
    analyser.fftSize = 1024;
    this.source.connect(analyser);
    const buf = new Float32Array(analyser.fftSize);
    this.timer = setInterval(() => {
      analyser.getFloatTimeDomainData(buf);
      let sum = 0;
      for (const v of buf) sum += v * v;
      const rms = Math.sqrt(sum / buf.length);
      const db = rms > 0 ? 20 * Math.log10(rms) : -100;
      this.onLevel(track.enabled ? Math.max(0, Math.min(1, (db + 60) / 60)) : 0);
    }, 66);
  }

  detach() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.source) this.source.disconnect();
    this.source = null;
    this.track = null;
  }

  close() {
    this.detach();
    if (this.ctx) this.ctx.close().catch(() => {});
    this.ctx = null;
  }
}
