#!/usr/bin/env bash
# Record the corpus in benchmarks/data/ (see its README). Needs: a venv with torch 2.13 (CPU), transformers,
# accelerate, lightning, keras, tqdm, xgboost-cpu ($PY), and a nanoGPT checkout ($NANOGPT_DIR). Two lanes of runs without a
# noisy neighbour side by side (one thread each: one core each), then the runs with one, alone.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PY=${PY:-python}
export OMP_NUM_THREADS=1 NANOGPT_DIR=${NANOGPT_DIR:?a nanoGPT checkout}
work=${WORK:-/tmp/corpus-work}
mkdir -p "$work" && cp "$NANOGPT_DIR/configurator.py" "$work/" && [ -d "$work/data" ] || $PY "$here/ng_data.py" "$work"
cd "$work"
drive() { $PY "$here/drive.py" "$@"; }
ng() {  # nanoGPT's CPU settings shared by every run; extra flags after
    echo $PY "$here/ng_train.py" --device=cpu --dtype=float32 --dataset=shakespeare_char --batch_size=12 \
        --block_size=64 --n_layer=4 --n_head=4 --n_embd=128 --gradient_accumulation_steps=1 --dropout=0.0 \
        --eval_iters=100 --warmup_iters=100 "$@"
}
only=${ONLY:-}
run() { [ -z "$only" ] || [[ " $only " == *" $1 "* ]] || return 0; drive "$@"; }
ng_dir() { rm -rf "$work/out-$1"; echo "--out_dir=$work/out-$1"; }

lane_a() {
    run ng_compile_clean -- $(ng --compile=True --max_iters=5000 --lr_decay_iters=5000 --eval_interval=500 --log_interval=10 $(ng_dir a))
    run ng_iostall --plan "90 stall 0.25; 150 stall 0; 210 stall 0.4; 250 stall 0" -- \
        $(ng --compile=True --max_iters=4000 --lr_decay_iters=4000 --eval_interval=500 --log_interval=10 $(ng_dir b))
    run ng_resume --plan "110 kill; 115 resume" --resume-cmd "$(ng --compile=False --init_from=resume --max_iters=4000 --lr_decay_iters=4000 --eval_interval=250 --log_interval=5 --out_dir=$work/out-c)" -- \
        $(ng --compile=False --max_iters=4000 --lr_decay_iters=4000 --eval_interval=250 --log_interval=5 $(ng_dir c))
    run torch_curriculum -- $PY "$here/torch_tqdm.py" 9000 0.5
    run keras_val -- $PY "$here/keras_fit.py" 15
    run ng_stall90 --plan "100 stall 0.3; 190 stall 0" -- \
        $(ng --compile=True --max_iters=4000 --lr_decay_iters=4000 --eval_interval=500 --log_interval=10 $(ng_dir g))
}
lane_b() {
    run ng_sigstop --plan "120 stop; 165 cont" -- \
        $(ng --compile=False --max_iters=5000 --lr_decay_iters=5000 --eval_interval=1000 --log_interval=1 $(ng_dir d))
    run hf_stall --plan "70 stall 0.05; 130 stall 0" -- $PY "$here/hf_train.py" 6000
    run pl_val_speedup -- $PY "$here/pl_train.py" 6
    run ng_clean_log1 -- $(ng --compile=False --max_iters=5000 --lr_decay_iters=5000 --eval_interval=1000 --log_interval=1 $(ng_dir e))
    run torch_stall --plan "60 stall 0.05; 90 stall 0; 150 stall 0.1; 170 stall 0" -- $PY "$here/torch_tqdm.py" 14000 2
}
lane_a & a=$!
lane_b & b=$!
wait $a $b
run ng_noisy_stays --plan "100 hog 2" -- \
    $(ng --compile=True --max_iters=5000 --lr_decay_iters=5000 --eval_interval=500 --log_interval=10 $(ng_dir f))
run hf_noisy --plan "80 hog 2" -- $PY "$here/hf_train.py" 8000
run metriclogger_blip --plan "60 hog 2; 90 unhog" -- $PY "$here/metriclogger_train.py" 20
run ng_noisy2 --plan "80 hog 2" -- \
    $(ng --compile=False --max_iters=4000 --lr_decay_iters=4000 --eval_interval=500 --log_interval=5 $(ng_dir h))

# Recorded once a resume continued the schedule of periodic work, and scored once: fresh runs of other trainers and
# other perturbations, two lanes side by side, then one with a noisy neighbour alone.
fresh_a() {
    rm -rf "$work/hf-resume"
    HF_OUT=$work/hf-resume run hf_resume --plan "100 kill; 105 resume" \
        --resume-cmd "$PY $here/hf_train.py 6000 --resume" -- $PY "$here/hf_train.py" 6000
    run pl_stall --plan "50 stall 0.1; 90 stall 0" -- $PY "$here/pl_train.py" 4
}
fresh_b() {
    run torch_sigstop --plan "100 stop; 130 cont" -- $PY "$here/torch_tqdm.py" 14000 2
}
fresh_a & a=$!
fresh_b & b=$!
wait $a $b
run keras_blip --plan "60 hog 2; 180 unhog" -- $PY "$here/keras_fit.py" 10

# Recorded after the fresh runs above had shown the HF skip-ahead (and scored once): a Lightning resume, and an HF
# run that evaluates and saves once per epoch, side by side.
fresh_c() {
    rm -rf "$work/pl-resume"
    PL_OUT=$work/pl-resume run pl_resume --plan "130 kill; 135 resume" \
        --resume-cmd "$PY $here/pl_train.py 4 --resume" -- $PY "$here/pl_train.py" 4
}
fresh_d() {
    run hf_epochs -- $PY "$here/hf_train.py" 7500 --per-epoch
}
fresh_c & c=$!
fresh_d & d=$!
wait $c $d

# The same skip-ahead check on transformers 4.x, recorded after the rest and scored once. Needs TF4: a folder made
# with `pip install --target "$TF4" --no-deps transformers==4.46.3 tokenizers==0.20.3 accelerate==1.1.1
# huggingface_hub==0.26.5` (torch from $PY's venv). 4.46 cannot load its RNG state under torch 2.13 (weights_only),
# so the resume removes that file first.
if [ -n "${TF4:-}" ]; then
    rm -rf "$work/hf4"
    PYTHONPATH=$TF4 HF_OUT=$work/hf4 run hf4_resume --plan "50 kill; 55 resume" --resume-cmd \
        "sh -c 'rm -f $work/hf4/checkpoint-*/rng_state.pth; exec $PY $here/hf_train.py 3000 --resume'" -- \
        $PY "$here/hf_train.py" 3000
fi

# Recorded after the generic family learned epoch counters (hand-written loops of pytorch/examples and tutorials),
# two side by side, then one with a noisy neighbour alone; scored once.
fresh_e() {
    run mnist_example --plan "100 stall 0.05; 150 stall 0" -- $PY "$here/mnist_example.py" 8 20000 5000
}
fresh_f() {
    run tutorial_sigstop --plan "120 stop; 150 cont" -- $PY "$here/tutorial_convnet.py" 12 60000 10
}
fresh_e & e=$!
fresh_f & f=$!
wait $e $f
run word_lm_noisy --plan "90 hog 2" -- $PY "$here/word_lm.py" 14 200000 20

# Recorded after a validation inside every line (Keras verbose=2: one line per epoch) became part of the pace; alone,
# scored once.
run keras_v2_stall --plan "70 stall 0.03; 130 stall 0" -- $PY "$here/keras_fit.py" 10 2

# Recorded after a log that arrives in blocks was read as such: nanoGPT with its stdout left block-buffered (a pipe,
# 8 KiB at a time, as `python train.py > log` without -u); alone, scored once.
run ng_buffered_stall --buffered --plan "90 stall 0.2; 150 stall 0" -- \
    $(ng --compile=False --max_iters=4000 --lr_decay_iters=4000 --eval_interval=500 --log_interval=2 $(ng_dir i))
run metriclogger_buffered_sigstop --buffered --plan "120 stop; 160 cont" -- $PY "$here/metriclogger_train.py" 30

# Recorded after a tqdm bar over epochs around the training bar was read as such (the most common hand-written loop:
# for epoch in trange(E): for batch in tqdm(loader)); side by side, scored once.
fresh_g() {
    run torch_epochs_stall --plan "70 stall 0.05; 110 stall 0" -- $PY "$here/torch_epochs.py" 6 3000
}
fresh_h() {
    run torch_epochs_sigstop --plan "100 stop; 130 cont" -- $PY "$here/torch_epochs.py" 6 3000 --plain
}
fresh_g & g=$!
fresh_h & h=$!
wait $g $h

# Recorded after a line that names an epoch between the passes of a bar was read as such (print(f"Epoch {e}/{E}")
# before each pass of tqdm(loader)); alone (a noisy neighbour), scored once.
run torch_epochs_noisy --plan "90 hog 2" -- $PY "$here/torch_epochs.py" 6 3000 --print

# Recorded after the generic family read a counter that starts over each epoch as the next pass (Epoch e/E on a line
# of its own, Batch i/N lines, no bar); alone, scored once.
run torch_lines_stall --plan "70 stall 0.05; 110 stall 0" -- $PY "$here/torch_epochs.py" 6 3000 --lines

# Recorded after an HF Trainer log of the dicts alone was read as such (`python train.py > train.log`: tqdm draws
# on stderr; --stdout-only records stdout alone), 3 epochs: a stall that comes and goes (beside the real-line test's
# 1-epoch run for its first 100 s), then a noisy neighbour that stays, alone; scored once.
rm -rf "$work/hf-stdout" "$work/hf-stdout-noisy"
HF_OUT=$work/hf-stdout run hf_stdout_stall --stdout-only --plan "60 stall 0.08; 100 stall 0; 170 stall 0.08; 190 stall 0" -- \
    $PY "$here/hf_train.py" 3 --epochs
HF_OUT=$work/hf-stdout-noisy run hf_stdout_noisy --stdout-only --plan "90 hog 2" -- $PY "$here/hf_train.py" 3 --epochs --per-epoch

# Recorded after JSON metric records were read (a loop's print(json.dumps(metrics)): the jsonl family); a stall that
# comes and goes then a SIGSTOP, beside the developer's work; then a noisy neighbour that stays, alone; scored once.
run torch_json_stall --plan "60 stall 0.05; 100 stall 0; 170 stop; 200 cont" -- $PY "$here/torch_json.py" 10000 2000
run torch_json_noisy --plan "90 hog 2" -- $PY "$here/torch_json.py" 10000 2000

# Recorded after gradient boosting logs were read (the boosting family; needs xgboost-cpu): XGBoost, a line every 10
# rounds, two CPU hogs for a minute then a SIGSTOP; alone, scored once.
run xgb_blip_sigstop --plan "90 hog 2; 150 unhog; 200 stop; 230 cont" -- $PY "$here/boost_train.py" xgboost 4000 300000

# Recorded at the start of a release that changed no estimator (a check that the last one generalises): a loop that
# reports through logging in the format of Hugging Face's no_trainer examples (whole-second timestamps, no step time
# printed; the generic family), two CPU hogs for a minute then a SIGSTOP; alone, scored once.
run torch_logging_blip_sigstop --plan "80 hog 2; 140 unhog; 200 stop; 230 cont" -- $PY "$here/torch_logging.py" 4 3000
# The same release: Lightning validating four times per epoch (val_check_interval=0.25) after its cold first epoch,
# two CPU hogs from 120 s (the run ended at 181 s, a minute later: a neighbour that stays); alone, scored once.
PL_OUT=$work/pl-valq run pl_valq_blip --plan "120 hog 2; 180 unhog" -- $PY "$here/pl_train.py" 3 --val-every 0.25
