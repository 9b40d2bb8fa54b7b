"""eicore's reference baselines, registered through the ``eicore`` entry point."""

from eicore import hookimpl
from eicore_baselines.question_prior import QuestionPrior, QuestionPriorConfig


@hookimpl
def eicore_register_models(register):  # type: ignore[no-untyped-def]
    register("question-prior", QuestionPrior, QuestionPriorConfig)
