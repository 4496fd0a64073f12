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


def test_an_existing_run_keeps_its_own_logging_and_checkpoint_intervals(tmp_path, toy_dataset):
    import pytest

    from untwine.train import RunDirError

    cfg = dict(method="beta_vae", dataset="toy_squares", hparams={"latent_dim": 2}, batch_size=4)
    train_or_continue(TrainConfig(steps=2, log_every=1, checkpoint_every=2, **cfg), tmp_path / "r", toy_dataset)
    # a study whose file now checkpoints more often continues and reloads the run (same numbers)
    r, _ = train_or_continue(TrainConfig(steps=4, log_every=2, checkpoint_every=1, **cfg), tmp_path / "r", toy_dataset)
    assert [row["step"] for row in r.history] == [1, 2, 3, 4] and r.config.checkpoint_every == 2
    train_or_continue(TrainConfig(steps=4, log_every=3, checkpoint_every=3, **cfg), tmp_path / "r", toy_dataset)
    with pytest.raises(RunDirError, match="seed"):  # anything that changes the numbers is still refused
        train_or_continue(TrainConfig(steps=4, seed=5, log_every=1, checkpoint_every=2, **cfg), tmp_path / "r",
                          toy_dataset)
