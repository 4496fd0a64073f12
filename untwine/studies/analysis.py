"""A study's own analysis functions, named in its file (``analysis: {file, score, summary}``).

``score(run, dataset) -> dict[str, float]``: extra scores of one trained run (a
:class:`~untwine.train.RunResult` and its dataset), computed in the worker after the metrics and
stored with them. ``summary(frame, study) -> None``: after ``untwine study run`` (and by
``untwine study report``), writes the study's own tables and figures from the results
DataFrame (:func:`untwine.studies.load`).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any, Callable

_MODULES: dict[str, Any] = {}


def load_function(file: str | Path, name: str) -> Callable[..., Any]:
    """The function ``name`` of the Python file ``file`` (imported once per process)."""
    file = str(Path(file).resolve())
    if file not in _MODULES:
        module_name = f"untwine_study_analysis_{abs(hash(file))}"
        spec = importlib.util.spec_from_file_location(module_name, file)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {file}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[module_name]
            raise
        _MODULES[file] = module
    fn = getattr(_MODULES[file], name, None)
    if not callable(fn):
        raise AttributeError(f"{file} defines no function {name!r}")
    return fn


def run_summary(study: Any, frame: Any) -> bool:
    """Call the study's ``analysis.summary(frame, study)`` if it has one and every trial is done;
    True if it ran. An error in it is one StudyError naming it."""
    from .local import describe_error
    from .spec import StudyError

    if not (study.analysis and study.analysis.get("summary")) or not len(frame) or not (frame["status"] == "done").all():
        return False
    fn = load_function(study.analysis["file"], study.analysis["summary"])
    try:
        fn(frame, study)
    except Exception as e:  # noqa: BLE001 - the user's function: report it, keep the results
        raise StudyError(f"study file {study.path}: analysis.summary ({study.analysis['summary']} in "
                         f"{Path(study.analysis['file']).name}) raised {describe_error(e)}; the results are kept in "
                         f"{study.store_path}: fix the function and run `untwine study report` again") from None
    return True
