#!/usr/bin/env bash
# One device call, two queues of study/gpu/drive.py one after the other on the same machine.
# The first queue starts all its jobs at once (K1 workers); the second starts its jobs only if the first
# queue's wall time still fits in what is left (drive.py's EST). Each drive.py runs under `timeout` (which
# signals its whole process group), so whatever finished is packed into ONE file, $OUT/runs.tar.gz: the
# device returns at most 8 files, and drive.py copies every finished model's metrics as it goes.
# usage: OUT=... [MPS=1] bash study/gpu/two_queues.sh TOTAL_S QUEUE1 K1 QUEUE2 K2 [PARAMS]
#   QUEUE1, QUEUE2: JSON files of jobs, as drive.py takes them; "a.json+b.json" runs both lists as one queue;
#   QUEUE2 "-": none
set -u
total=$1 q1=$2 k1=$3 q2=$4 k2=$5 params=${6:-study/params.yaml}
real_out=$OUT
t0=$(date +%s)
rm -rf /tmp/o1 /tmp/o2 && mkdir -p /tmp/o1 /tmp/o2  # a warm machine keeps /tmp between calls
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; nproc; python3 -c "import torch; print(torch.__version__)"; } \
    >/tmp/o1/machine.txt 2>&1
join() {  # the jobs of "a.json+b.json" as one file (drive.py reads a file; a long JSON string is no path)
    python3 -c 'import json, sys; json.dump([j for f in sys.argv[1].split("+") for j in json.load(open(f))], open(sys.argv[2], "w"))' "$1" "$2"
    echo "$2"
}
OUT=/tmp/o1 WS=/tmp/ws1 EST=1 QUEUE=$(join "$q1" /tmp/q1.json) timeout $((total - 25)) \
    python3 study/gpu/drive.py $((total - 25)) "$k1" "$params" >/tmp/o1/drive.log 2>&1
t1=$(($(date +%s) - t0))
left=$((total - 25 - t1))
echo "queue 1 ($q1): ${t1} s; ${left} s left for queue 2" | tee /tmp/o2/why.txt
if [ "$left" -gt 60 ] && [ "$q2" != "-" ]; then
    OUT=/tmp/o2 WS=/tmp/ws2 EST=$t1 QUEUE=$(join "$q2" /tmp/q2.json) timeout "$left" \
        python3 study/gpu/drive.py "$left" "$k2" "$params" >/tmp/o2/drive.log 2>&1
fi
echo "total ${SECONDS} s" >>/tmp/o2/why.txt
tail -n 3 /tmp/o1/drive.log /tmp/o2/drive.log 2>/dev/null
tar czf "$real_out/runs.tar.gz" -C /tmp o1 o2
