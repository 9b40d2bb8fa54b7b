"""The base classes a plugin implements: Dataset, Model, Strategy, Judge, Metric.

Each plugin object is built from its config dataclass (``factory(config)``); the core never
imports a plugin's heavy dependencies — a plugin imports them when its object is built.
"""

from __future__ import annotations

import abc
import asyncio
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from omegaconf import MISSING

from eicore.datasets.samples import DataConfig
from eicore.secrets.masking import SECRET_FIELD
from eicore.types import Completion, ImagePart, Judgment, Prompt, Sample, SampleRecord

RUNTIME_FIELDS = frozenset(
    {
        "plugin", "batch_size", "timeout", "max_retries", "concurrency", "api_key_env",
        "price_input_per_mtok", "price_output_per_mtok", "paper_root",
    }
)  # fmt: skip
"""Config fields that change how a model is called (or what it costs), not what it answers:
left out of cache keys and config hashes (``paper_root`` only says where the sha256-pinned
original scripts are read from)."""


def _config_fields(config: object) -> dict[str, Any]:
    """A dataclass config's fields as a dict (recursively); {} for any other config."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return dataclasses.asdict(config)
    return {}


class Dataset(abc.ABC):
    """A source of samples. ``load`` returns the whole split; the core applies the subsets its
    ``config`` names (the :class:`~eicore.datasets.samples.DataConfig` fields)."""

    config: DataConfig

    @abc.abstractmethod
    def load(self) -> list[Sample]: ...

    def provenance(self) -> dict[str, Any]:
        """Facts that identify the data (files, digests), recorded with every run."""
        return {}


class Model(abc.ABC):
    """A model that turns prompts into completions.

    ``generate`` receives up to ``max_batch_size`` prompts at once; a local model runs them as
    one batch, an API model may fan them out. Blocking work belongs in a thread
    (``asyncio.to_thread``) so the run's other samples keep moving.
    """

    accepts_images: bool = False
    """Whether prompts may carry images; a plugin may set it per instance from its config."""

    def __init__(self, config: Any) -> None:
        self.config = config

    @property
    def max_batch_size(self) -> int:
        return int(getattr(self.config, "batch_size", 1) or 1)

    @property
    def cacheable(self) -> bool:
        """Whether equal prompts give equal answers (sampling with no seed does not)."""
        temperature = getattr(self.config, "temperature", 0.0) or 0.0
        return temperature <= 0 or getattr(self.config, "seed", None) is not None

    def identity(self) -> dict[str, Any]:
        """What makes this model's answers what they are: the cache key's model part."""
        kept = {
            k: v
            for k, v in _config_fields(self.config).items()
            if k not in RUNTIME_FIELDS and not SECRET_FIELD.search(k)
        }
        return {"plugin": getattr(self.config, "plugin", type(self).__name__), **kept}

    @abc.abstractmethod
    async def generate(self, prompts: Sequence[Prompt]) -> list[Completion]: ...

    def cost(self, completion: Completion) -> float | None:
        """Estimated US dollars of one call: its token counts at the config's
        ``price_input_per_mtok`` and ``price_output_per_mtok`` (dollars per million tokens).
        None when a price or a count is missing; override for other pricing."""
        price_in = getattr(self.config, "price_input_per_mtok", None)
        price_out = getattr(self.config, "price_output_per_mtok", None)
        tokens_in, tokens_out = completion.input_tokens, completion.output_tokens
        if price_in is None or price_out is None or tokens_in is None or tokens_out is None:
            return None
        return (tokens_in * float(price_in) + tokens_out * float(price_out)) / 1e6

    async def aclose(self) -> None:  # noqa: B027 - an optional hook, a no-op by default
        """Release clients, threads or memory; called once at the end of a run."""


@dataclass
class APIModelConfig:
    """The settings every API model shares; a plugin's config subclasses it, setting its own
    defaults (``name``, ``base_url``, ``api_key_env``) and adding fields of its own."""

    name: str = MISSING
    """The model id the API knows."""
    temperature: float | None = 0.0
    """Sampling temperature; null leaves it to the API."""
    max_tokens: int = 512
    """At most this many tokens in an answer."""
    system: str | None = None
    """System text sent with every call (before a prompt's own system text)."""
    vision: bool = True
    """Send images inline; false makes a text-only model (strategies then leave images out)."""
    base_url: str | None = None
    """The API root (default: the provider SDK's)."""
    api_key_env: str | None = None
    """The environment variable holding the key (:func:`eicore.api_key` reads it); null for a
    server that takes none. The key itself is never a config value."""
    timeout: float = 120.0
    """Seconds per attempt."""
    max_retries: int = 5
    """Retries of 408/409/429/5xx answers, timeouts and dropped connections, after capped
    exponential backoff (0.5 s doubling to 8 s) or the server's Retry-After / retry-after-ms."""
    concurrency: int | None = None
    """At most this many calls in flight to this model (default: the run's concurrency)."""
    price_input_per_mtok: float | None = None
    """US dollars per million prompt tokens, for the run's cost estimate."""
    price_output_per_mtok: float | None = None
    """US dollars per million answer tokens, for the run's cost estimate."""


class APIModel(Model):
    """A model behind a remote API, called once per prompt (SDK-free: plugins bring the client).

    Its config (an :class:`APIModelConfig`, or any config with these two fields) has
    ``vision``, whether images are sent (:attr:`accepts_images`), and ``concurrency``, how many
    calls may be in flight (:attr:`max_concurrency`; None for the run's). ``generate`` fans the
    prompts out to :meth:`call_api`, concurrently.
    """

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.accepts_images = config.vision
        _check_limits(config)

    @property
    def max_concurrency(self) -> int | None:
        concurrency: int | None = self.config.concurrency
        return concurrency

    async def generate(self, prompts: Sequence[Prompt]) -> list[Completion]:
        try:
            if len(prompts) == 1:  # eicore sends API models one prompt at a time
                return [await self.call_api(prompts[0])]
            return list(await asyncio.gather(*(self.call_api(p) for p in prompts)))
        except Exception as exc:
            if _unreachable(exc):  # the SDK says only "Connection error.": say where to
                url = getattr(self.config, "base_url", None) or "the provider's default URL"
                exc.args = (f"{exc} (could not reach {url}; check model.base_url)", *exc.args[1:])
            raise

    @abc.abstractmethod
    async def call_api(self, prompt: Prompt) -> Completion:
        """One API call: the completion of ``prompt``."""


def _check_limits(config: Any) -> None:
    """Refuse retry and time limits that cannot work, before any call."""
    from eicore.run.settings import ConfigError

    retries, timeout = getattr(config, "max_retries", 0), getattr(config, "timeout", 1)
    concurrency = getattr(config, "concurrency", None)
    if retries is not None and retries < 0:
        raise ConfigError(f"model.max_retries={retries}: give 0 (no retries) or more")
    if timeout is not None and timeout <= 0:
        raise ConfigError(f"model.timeout={timeout}: give the seconds per attempt, above 0")
    if concurrency is not None and concurrency < 1:
        raise ConfigError(f"model.concurrency={concurrency}: give 1 or more (null: the run's)")


def _unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says the server could not be reached (the SDKs' connection and timeout
    errors, httpx's, or the OS's)."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    sdk = {"APIConnectionError", "APITimeoutError", "ConnectError", "ConnectTimeout"}
    return bool(names & sdk) or isinstance(exc, (ConnectionError, TimeoutError))


class ModelRole(Protocol):
    """What a strategy sees of a model: one call at a time, cached and traced by the core."""

    accepts_images: bool

    async def complete(self, prompt: Prompt, *, round: int = 0) -> Completion: ...


class Strategy(abc.ABC):
    """Turns a sample into an answer using named model roles (``answerer``, ``captioner``…)."""

    roles: ClassVar[tuple[str, ...]] = ("answerer",)

    def __init__(self, config: Any) -> None:
        self.config = config

    def describe(self) -> dict[str, Any]:
        """The strategy's settings as recorded in metrics.json."""
        return _config_fields(self.config)

    def needs_image(self, models: Mapping[str, ModelRole]) -> bool:
        """Whether the sample's image must be read; by default when any role accepts images."""
        return any(m.accepts_images for m in models.values())

    def artifacts(self, records: Sequence[SampleRecord]) -> dict[str, Any]:
        """Extra files for the run directory, built from the records: ``name.jsonl`` → a list
        of rows, ``name.json`` → one JSON value."""
        return {}

    @abc.abstractmethod
    async def answer(
        self, sample: Sample, image: ImagePart | None, models: Mapping[str, ModelRole]
    ) -> str:
        """Return the final answer text; every model call is traced by the roles themselves.

        ``image`` is the sample's image, read and checked, when any role accepts images, and
        None otherwise; send it only to roles whose ``accepts_images`` is true.
        """


class Judge(abc.ABC):
    """Decides how many of a sample's ground-truth triggers an answer recalls."""

    asks_model: bool = False
    """Whether the judge asks a model, the one its config's ``model`` node names. The run
    builds that model and hands it to :meth:`judge` as the role ``judge:<name>``: its calls are
    cached, traced in the sample's record and counted and costed as a strategy's are."""

    def __init__(self, config: Any) -> None:
        self.config = config

    @property
    def name(self) -> str:
        return str(getattr(self.config, "plugin", type(self).__name__))

    def describe(self) -> dict[str, Any]:
        """The judge's identity and settings, recorded in metrics.json."""
        return _config_fields(self.config) or {"plugin": self.name}

    @abc.abstractmethod
    async def judge(self, sample: Sample, answer: str, model: ModelRole | None = None) -> Judgment:
        """The verdict on ``answer``; ``model`` is the judge's model role when it
        :attr:`asks_model` (None otherwise)."""

    async def aclose(self) -> None:  # noqa: B027 - an optional hook, a no-op by default
        """Release what the judge holds; called once at the end of a run."""


class Metric(abc.ABC):
    """Aggregates a run's records into named scores for metrics.json."""

    def __init__(self, config: Any) -> None:
        self.config = config

    @abc.abstractmethod
    def compute(self, records: Sequence[SampleRecord]) -> dict[str, Any]: ...
