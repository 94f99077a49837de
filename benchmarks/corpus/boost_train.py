"""XGBoost, LightGBM and CatBoost on CPU, each printing its evaluation log as users run them (one thread).

    python benchmarks/corpus/boost_train.py xgboost|xgboost-sklearn|lightgbm|catboost ROUNDS [ROWS]

Needs numpy and the library (``xgboost-cpu``, ``lightgbm``, ``catboost``). ``tests/data/real_boost_KIND.log`` are the
stdout of ``KIND 300``; the corpus's ``xgb_blip_sigstop`` is ``xgboost 4000 300000``.
"""
import sys

import numpy as np

kind, rounds = sys.argv[1], int(sys.argv[2])
rows = int(sys.argv[3]) if len(sys.argv) > 3 else 20000
rng = np.random.default_rng(0)
X = rng.normal(size=(rows, 40))
y = (X[:, :6].sum(axis=1) + rng.normal(size=rows) > 0).astype(int)
split = rows * 4 // 5
Xt, yt, Xv, yv = X[:split], y[:split], X[split:], y[split:]
if kind == "xgboost":
    import xgboost as xgb
    dtrain, dval = xgb.DMatrix(Xt, label=yt), xgb.DMatrix(Xv, label=yv)
    xgb.train({"objective": "binary:logistic", "eval_metric": "logloss", "nthread": 1, "max_depth": 6}, dtrain, rounds,
              evals=[(dtrain, "train"), (dval, "eval")], verbose_eval=10)
elif kind == "xgboost-sklearn":
    import xgboost as xgb
    xgb.XGBClassifier(n_estimators=rounds, n_jobs=1, max_depth=6).fit(Xt, yt, eval_set=[(Xt, yt), (Xv, yv)], verbose=10)
elif kind == "lightgbm":
    import lightgbm as lgb
    lgb.train({"objective": "binary", "num_threads": 1, "num_leaves": 63}, lgb.Dataset(Xt, yt), rounds,
              valid_sets=[lgb.Dataset(Xt, yt), lgb.Dataset(Xv, yv)], valid_names=["training", "valid_1"],
              callbacks=[lgb.log_evaluation(10)])
elif kind == "catboost":
    from catboost import CatBoostClassifier
    CatBoostClassifier(iterations=rounds, thread_count=1, verbose=10, allow_writing_files=False).fit(
        Xt, yt, eval_set=(Xv, yv))
