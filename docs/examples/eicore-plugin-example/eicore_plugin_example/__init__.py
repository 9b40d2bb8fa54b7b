"""eicore-plugin-example: one component of every kind, registered through the ``eicore`` entry
point exactly as any published plugin does."""

from eicore import Register, hookimpl
from eicore_plugin_example.dataset import TriggersCSV, TriggersCSVConfig
from eicore_plugin_example.judge import Verbatim, VerbatimConfig
from eicore_plugin_example.metric import AnswerItems, AnswerItemsConfig
from eicore_plugin_example.model import AcmeChat, AcmeChatConfig
from eicore_plugin_example.strategy import Refine, RefineConfig


@hookimpl
def eicore_register_models(register: Register) -> None:
    register("acme-chat", AcmeChat, AcmeChatConfig)


@hookimpl
def eicore_register_strategies(register: Register) -> None:
    register("refine", Refine, RefineConfig)


@hookimpl
def eicore_register_judges(register: Register) -> None:
    register("verbatim", Verbatim, VerbatimConfig)


@hookimpl
def eicore_register_metrics(register: Register) -> None:
    register("answer_items", AnswerItems, AnswerItemsConfig)


@hookimpl
def eicore_register_datasets(register: Register) -> None:
    register("triggers-csv", TriggersCSV, TriggersCSVConfig)
