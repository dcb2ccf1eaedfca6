"""Device run of the study's synthetic part: K workers share one GPU, each job = stages/train.py then
stages/evaluate.py of one (task, pe, seed), in one workspace with study/params.yaml. Everything lands in
$OUT/study_gpu.tar.gz (metrics, timings, logs, jobs.json); each finished model's metrics are also copied
to $OUT/metrics/ at once, so a run cut by the device's time limit still brings back what it finished (where
the device returns only a few files, run it through study/gpu/two_queues.sh, which packs $OUT into one).
QUEUE='[[task, pe, seed], ...]' (or a file holding that list) runs those jobs in that order instead of
every (task, seed, pe) not in DONE; an item [task, pe, seed, lr] is a model of the learning-rate sweep
(stages/train_lr.py then stages/evaluate_lr.py: the headline task, the first seed, lr from lr_sweep).
MPS=1 starts NVIDIA's Multi-Process Service daemon first (a user-space server: the card's compute mode and
other settings stay as they are): without it the K processes' kernels take turns on the GPU (time-slicing),
so K small models are no faster than one after another once the GPU is always busy; with it their kernels
can run side by side. If the daemon does not start, the run goes on without it and says so (summary "mps")."""
import hashlib, json, os, shutil, subprocess, sys, tarfile, threading, time
from pathlib import Path

import yaml

budget, K, params_file = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
T0 = time.time()
root, out = Path.cwd(), Path(os.environ["OUT"])
ws = Path(os.environ.get("WS", "/tmp/ws"))  # the workspace, emptied first
shutil.rmtree(ws, ignore_errors=True)
ws.mkdir()
for name in ("src", "stages", "templates"):
    shutil.copytree(root / name, ws / name)
shutil.copy(root / params_file, ws / "params.yaml")
(ws / "logs").mkdir()
try:  # the device image has no DVCLive: a stand-in that drops the live log (no metric in $OUT comes from it)
    import dvclive  # noqa: F401
    stub = ""
except ImportError:
    stub = ws / "_stub"
    (stub / "dvclive").mkdir(parents=True)
    (stub / "dvclive/__init__.py").write_text(
        "class Live:\n    step = 0\n    def __init__(self, *a, **k): pass\n    def __enter__(self): return self\n"
        "    def __exit__(self, *a): return False\n    def log_metric(self, *a, **k): pass\n")
params = yaml.safe_load((ws / "params.yaml").read_text())
env = {**os.environ, "PYTHONPATH": f"{ws / 'src'}:{stub}:{os.environ.get('PYTHONPATH', '')}", "OMP_NUM_THREADS": "1",
       "PYTHONUNBUFFERED": "1", "TQDM_DISABLE": "1"}
jobs_log, lock = [], threading.Lock()


def start_mps():
    """Start the MPS control daemon with its pipes in the workspace; True if it answers."""
    if os.environ.get("MPS") != "1":
        return False
    if not shutil.which("nvidia-cuda-mps-control"):
        print("MPS: requested, did not start (no nvidia-cuda-mps-control): running without it", flush=True)
        return False
    for key, sub in (("CUDA_MPS_PIPE_DIRECTORY", "mps_pipe"), ("CUDA_MPS_LOG_DIRECTORY", "mps_log")):
        (ws / sub).mkdir(exist_ok=True)
        env[key] = os.environ[key] = str(ws / sub)
    up = subprocess.run(["nvidia-cuda-mps-control", "-d"], capture_output=True, text=True).returncode == 0
    if up:  # the daemon answers on its pipe (the server itself starts with the first CUDA client)
        up = subprocess.run(["nvidia-cuda-mps-control"], input="get_default_active_thread_percentage\n",
                            capture_output=True, text=True, timeout=30).returncode == 0
    if not up:  # workers must not look for a daemon that does not answer
        subprocess.run(["nvidia-cuda-mps-control"], input="quit\n", text=True, capture_output=True, timeout=60)
        for key in ("CUDA_MPS_PIPE_DIRECTORY", "CUDA_MPS_LOG_DIRECTORY"):
            env.pop(key, None), os.environ.pop(key, None)
    print(f"MPS: {'on' if up else 'requested, did not start: running without it'}", flush=True)
    return up


mps = start_mps()


def run(args, name):
    t = time.time()
    with open(ws / "logs" / f"{name}.log", "w") as log:
        rc = subprocess.run([sys.executable, *args], cwd=ws, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    return rc, round(time.time() - t, 2)


def job(task, pe, seed, tag="", lr=None):
    a = ["--task", task, "--pe", pe, "--seed", str(seed)] if lr is None else ["--pe", pe, "--lr", str(lr)]
    sweep = "" if lr is None else "_lr"  # the sweep's stages: stages/train_lr.py, stages/evaluate_lr.py
    name = f"{task}_{pe}_s{seed}" if lr is None else f"{task}_{pe}_lr{float(lr)}_s{seed}"
    start = round(time.time() - T0, 1)
    rc1, t1 = run([f"stages/train{sweep}.py", *a], f"train_{name}{tag}")
    rc2, t2 = run([f"stages/evaluate{sweep}.py", *a], f"eval_{name}{tag}") if rc1 == 0 else (None, 0)
    for kind in ("train", "eval") if not tag else ():
        src = ws / "metrics" / kind / f"{name}.json"
        if src.exists():
            (out / "metrics" / kind).mkdir(parents=True, exist_ok=True)
            shutil.copy(src, out / "metrics" / kind / src.name)
    with lock:
        jobs_log.append({"task": task, "pe": pe, "seed": seed, **({} if lr is None else {"lr": lr}), "tag": tag,
                         "start_s": start, "train_rc": rc1,
                         "train_s": t1, "eval_rc": rc2, "eval_s": t2, "running": running[0]})
        (out / "jobs.json").write_text(json.dumps({"jobs": jobs_log}, indent=1))
        print(f"{time.time() - T0:6.0f} s {name}{tag}: train {t1:.0f} s rc {rc1}, eval {t2:.0f} s rc {rc2}",
              flush=True)


print(run(["stages/runtime.py"], "runtime"), run(["stages/prepare_synthetic.py"], "prepare"), flush=True)
print((ws / "metrics/runtime.json").read_text(), flush=True)
(out / "metrics").mkdir(exist_ok=True)
shutil.copy(ws / "metrics/runtime.json", out / "metrics/runtime.json")
running = [1]
done = set(tuple(x) for x in json.loads(os.environ.get("DONE", "[]")))
queue = [(t, pe, s, "") for t in params["synthetic"]["tasks"] for s in params["seeds"] for pe in params["pes"]
         if (t, pe, s) not in done]
if os.environ.get("QUEUE"):  # a JSON list, or a file holding one
    q = os.environ["QUEUE"]
    queue = [(t, pe, int(s), "", *lr) for t, pe, s, *lr in json.loads(Path(q).read_text() if Path(q).is_file() else q)]
first_md5, solo = None, float(os.environ.get("SOLO", "0"))
qlock = threading.Lock()
est = [float(os.environ.get('EST', solo * 2.0))]


def worker():
    while True:
        with qlock:
            if not queue or time.time() - T0 + est[0] > budget:
                return
            item = queue.pop(0)
            running[0] += 1
        job(*item)
        with qlock:
            running[0] -= 1
            est[0] = max(est[0], jobs_log[-1]["train_s"] + jobs_log[-1]["eval_s"])


running[0] = 0
smi = subprocess.Popen(["nvidia-smi" if shutil.which("nvidia-smi") else "true", "--query-gpu=utilization.gpu,memory.used", "--format=csv", "-l", "5"],
                       stdout=open(ws / "logs/smi.csv", "w"), stderr=subprocess.STDOUT)
threads = [threading.Thread(target=worker) for _ in range(K)]
for t in threads:
    t.start()
for t in threads:
    t.join()
smi.terminate()
if mps:
    subprocess.run(["nvidia-cuda-mps-control"], input="quit\n", text=True, timeout=60)
again = ws / "models/copy_learned_s0.pt"
summary = {"K": K, "mps": mps, "solo_job_s": solo, "jobs_done": len(jobs_log), "left": len(queue), "wall_s": round(time.time() - T0, 1),
           "first_md5": first_md5, "again_md5": hashlib.md5(again.read_bytes()).hexdigest() if again.exists() else None,
           "runtime": json.loads((ws / "metrics/runtime.json").read_text())}
(ws / "logs/jobs.json").write_text(json.dumps({"summary": summary, "jobs": jobs_log}, indent=1))
print(json.dumps(summary), flush=True)
with tarfile.open(out / "study_gpu.tar.gz", "w:gz") as tar:
    for name in ("metrics", "timings", "logs"):
        if (ws / name).exists():
            tar.add(ws / name, arcname=name)
shutil.copy(ws / "logs/jobs.json", out / "jobs.json")
