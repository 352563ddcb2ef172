# common.sh: shell functions shared by the serving benchmarks
# (scripts/bench-serving.sh, bench-serving-ab.sh, bench-overload.sh).
# Source it; it sets nothing else.

# freeport: a free TCP port on 127.0.0.1.
freeport() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# waitfor URL: wait up to 120 s for any HTTP answer.
waitfor() {
	_i=0
	until curl -s -o /dev/null "$1"; do
		_i=$((_i + 1))
		[ $_i -lt 240 ] || { echo "no answer from $1" >&2; exit 1; }
		sleep 0.5
	done
}

# predict_body CSV ROWS: CSV's first ROWS rows as one predict body,
# {"instances": [...]} with the features X1…X23.
predict_body() {
	head -$(($2 + 1)) "$1" | awk -F, 'NR==1 { for (i=1;i<=NF;i++) h[i]=$i; printf "{\"instances\":["; next }
		{ printf "%s{", (NR > 2 ? "," : ""); n=0
		  for (i=1;i<=NF;i++) if (h[i] ~ /^X[0-9]+$/) { printf "%s\"%s\":%s", (n++ ? "," : ""), h[i], $i }
		  printf "}" }
		END { printf "]}\n" }'
}

# train_forest BIN CSV: on the joule at $JOULE_SERVER (token $JOULE_TOKEN),
# uploads CSV as dataset credit and trains the benchmark's forest on it
# (random_forest, 100 trees, X1…X23 → Y, split seed 42) as model credit,
# version 1; prints the train command's output.
train_forest() {
	"$1" dataset upload credit "$2" -q >/dev/null
	"$1" train --dataset credit --target Y --features "$(seq -s, -f 'X%g' 1 23)" --algorithm random_forest \
		--param n_estimators=100 --split-seed 42 --wait
}
