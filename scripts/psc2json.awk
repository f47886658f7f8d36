# Turns `pocketsphinx_continuous -time yes` output of one stem into the
# dev-set transcript JSON segments of one speaker (no surrounding brackets;
# bench-asr.sh joins the stems). Usage: awk -v spk=NAME -f psc2json.awk
# Lines with 4 fields and numeric times are words; others are hypotheses.
function flush() {
	if (n > 0) {
		printf "%s{\"speaker\":\"%s\",\"start\":%.3f,\"end\":%.3f,\"text\":\"%s\"}", sep, spk, s, e, txt
		sep = ",\n"
	}
	n = 0; txt = ""
}
NF == 4 && $2 ~ /^[0-9.]+$/ && $3 ~ /^[0-9.]+$/ {
	w = $1
	if (w ~ /^[<[+]/) { if (w == "</s>") flush(); next }
	sub(/\([0-9]+\)$/, "", w)
	if (n == 0) s = $2
	e = $3
	txt = (n == 0 ? w : txt " " w)
	n++
	next
}
END { flush() }
