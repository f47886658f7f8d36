#!/usr/bin/env bash
# ASR benchmark on the dev set (docs/benchmarks-asr.md). Rerun with:
#   scripts/bench-asr.sh [OUT_DIR]        (default /tmp/parley-bench-asr)
# For each English dev meeting it transcribes the per-speaker stems
#  (a) with `parley transcribe --track NAME=STEM ...` (our pipeline:
#      VAD + pocketsphinx engine), and
#  (b) with `pocketsphinx_continuous` on each stem (its own VAD), speaker =
#      stem,
# scores both with shared/tools `wer` (WER and cpWER), and reports CPU time
# (user+sys from /usr/bin/time, one core pinned with taskset) as a
# real-time factor and peak RSS. Needs: go, sox, pocketsphinx, taskset,
# /usr/bin/time. Run it on a quiet machine; CPU time is less noisy than
# wall time but a busy machine still slows caches.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-/tmp/parley-bench-asr}"
DEV="${PARLEY_DEVSET:-$(cd .. && pwd)/shared/testdata/speech}"
TOOLS="$(cd "$DEV/../.." && pwd)/tools"
MEETINGS="${MEETINGS:-dev-r-en-01 dev-s-en-01}"
CORE="${CORE:-0}"
mkdir -p "$OUT"/bin "$OUT"/ours/transcripts "$OUT"/psc/transcripts "$OUT"/wav
go build -o "$OUT/bin/parley" ./cmd/parley
(cd "$TOOLS" && go build -o "$OUT/bin/wer" ./cmd/wer)

# cpu_of FILE: "user+sys seconds" and "max RSS KB" from /usr/bin/time -v.
cpu_of() { awk -F': ' '/User time/{u=$2} /System time/{s=$2} /Maximum resident/{m=$2} END{printf "%.2f %d\n", u+s, m}' "$1"; }
dur_of() { soxi -D "$1"; }

printf '%-12s %-26s %8s %8s %7s %9s\n' meeting system audio_s cpu_s rtf peak_MB | tee "$OUT/perf.txt"
for m in $MEETINGS; do
	stems=("$DEV"/stems/"$m"/*.flac)
	tracks=(); audio=0
	for s in "${stems[@]}"; do
		n=$(basename "$s" .flac)
		tracks+=(--track "$n=$s")
		audio=$(awk -v a="$audio" -v d="$(dur_of "$s")" 'BEGIN{print a+d}')
	done
	# (a) our pipeline, all tracks of the meeting in one process, one core.
	/usr/bin/time -v -o "$OUT/ours-$m.time" taskset -c "$CORE" "$OUT/bin/parley" transcribe --quiet --asr-streams 1 \
		--format json --out "$OUT/ours/transcripts/$m.json" "${tracks[@]}"
	read -r cpu rss < <(cpu_of "$OUT/ours-$m.time")
	printf '%-12s %-26s %8.1f %8.2f %7.3f %9.1f\n' "$m" "parley transcribe --track" "$audio" "$cpu" \
		"$(awk -v c="$cpu" -v a="$audio" 'BEGIN{print c/a}')" "$(awk -v r="$rss" 'BEGIN{print r/1024}')" | tee -a "$OUT/perf.txt"

	# (b) pocketsphinx_continuous, one process per stem, one core.
	cpu=0; rss=0; first=1
	{
		echo "["
		for s in "${stems[@]}"; do
			n=$(basename "$s" .flac)
			sox -q "$s" -r 16000 -c 1 -b 16 "$OUT/wav/$m-$n.wav"
			/usr/bin/time -v -o "$OUT/psc-$m-$n.time" taskset -c "$CORE" pocketsphinx_continuous \
				-infile "$OUT/wav/$m-$n.wav" -time yes -logfn /dev/null > "$OUT/psc-$m-$n.out" 2>/dev/null
			read -r c r < <(cpu_of "$OUT/psc-$m-$n.time")
			cpu=$(awk -v a="$cpu" -v b="$c" 'BEGIN{print a+b}')
			rss=$(( r > rss ? r : rss ))
			segs=$(awk -v spk="$n" -f scripts/psc2json.awk "$OUT/psc-$m-$n.out")
			if [ -n "$segs" ]; then
				[ $first -eq 1 ] || echo ","
				printf '%s' "$segs"; first=0
			fi
		done
		echo "]"
	} > "$OUT/psc/transcripts/$m.json"
	printf '%-12s %-26s %8.1f %8.2f %7.3f %9.1f\n' "$m" "pocketsphinx_continuous" "$audio" "$cpu" \
		"$(awk -v c="$cpu" -v a="$audio" 'BEGIN{print c/a}')" "$(awk -v r="$rss" 'BEGIN{print r/1024}')" | tee -a "$OUT/perf.txt"
done

for sys in ours psc; do
	echo "== $sys ($( [ $sys = ours ] && echo 'parley transcribe --track' || echo pocketsphinx_continuous ))"
	# Only the meetings benchmarked: a reference dir holding just them.
	mkdir -p "$OUT/ref"
	for m in $MEETINGS; do cp "$DEV/transcripts/$m.json" "$OUT/ref/"; done
	"$OUT/bin/wer" -ref "$OUT/ref" -hyp "$OUT/$sys/transcripts" | tee "$OUT/wer-$sys.txt"
done
