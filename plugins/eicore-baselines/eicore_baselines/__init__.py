"""eicore's reference baselines, registered through the ``eicore`` entry point."""

from eicore import Register, hookimpl
from eicore_baselines.question_prior import QuestionPrior, QuestionPriorConfig


@hookimpl
def eicore_register_models(register: Register) -> None:
    register("question-prior", QuestionPrior, QuestionPriorConfig)
