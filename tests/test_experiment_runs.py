import json

from untwine.experiments.runs import train_or_continue
from untwine.train import TrainConfig


def test_train_continue_and_reload(tmp_path, toy_dataset):
    cfg = dict(method="beta_vae", dataset="toy_squares", hparams={"latent_dim": 2}, batch_size=4, log_every=2)
    r1, t1 = train_or_continue(TrainConfig(steps=2, **cfg), tmp_path / "r", toy_dataset)
    r2, t2 = train_or_continue(TrainConfig(steps=4, **cfg), tmp_path / "r", toy_dataset)  # continues
    assert [row["step"] for row in r2.history] == [2, 4] and t2 >= t1 > 0
    r3, t3 = train_or_continue(TrainConfig(steps=4, **cfg), tmp_path / "r", toy_dataset)  # finished: loads
    assert t3 == t2 and json.loads((tmp_path / "r" / "train_seconds.json").read_text())["steps"] == 4
