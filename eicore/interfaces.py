"""The base classes a plugin implements: Dataset, Model, Strategy, Judge, Metric.

Each plugin object is built from its config dataclass (``factory(config)``); the core never
imports a plugin's heavy dependencies — a plugin imports them when its object is built.
"""

from __future__ import annotations

import abc
import asyncio
import dataclasses
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from omegaconf import MISSING

from eicore.datasets.samples import DataConfig
from eicore.secrets.masking import SECRET_FIELD
from eicore.types import Completion, ImagePart, Judgment, Prompt, Sample, SampleRecord

RUNTIME_FIELDS = frozenset(
    {
        "plugin", "batch_size", "timeout", "max_retries", "concurrency", "api_key_env",
        "price_input_per_mtok", "price_output_per_mtok", "paper_root", "batch_api",
        "batch_samples", "batch_poll_s", "batch_poll_max_s", "batch_discount",
    }
)  # fmt: skip
"""Config fields that change how a model is called (or what it costs), not what it answers:
left out of cache keys and config hashes (``paper_root`` only says where the sha256-pinned
original scripts are read from; a provider batch answers as a direct call does)."""


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
    def in_flight(self) -> int | None:
        """Samples the run keeps in flight for this model, when it needs more than
        ``run.concurrency`` (a batch-API model: its calls meet in one provider batch); None
        for the run's."""
        return None

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
        A call made through a provider batch (``completion.batch``) costs ``batch_discount``
        less. None when a price or a count is missing; override for other pricing."""
        price_in = getattr(self.config, "price_input_per_mtok", None)
        price_out = getattr(self.config, "price_output_per_mtok", None)
        tokens_in, tokens_out = completion.input_tokens, completion.output_tokens
        if price_in is None or price_out is None or tokens_in is None or tokens_out is None:
            return None
        cost = (tokens_in * float(price_in) + tokens_out * float(price_out)) / 1e6
        if completion.batch:  # a provider batch bills its calls at a discount
            cost *= 1 - float(getattr(self.config, "batch_discount", 0.0))
        return cost

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
    batch_api: bool = False
    """Send the run's calls as provider batches (models whose plugin has a batch API: openai,
    anthropic): billed at ``batch_discount``, answered within 24 hours instead of seconds."""
    batch_samples: int | None = None
    """With ``batch_api``: samples in flight together, so their calls meet in one batch;
    null: every sample of the run."""
    batch_poll_s: float = 30.0
    """With ``batch_api``: seconds before the first status check of a pending batch; each
    further wait is 1.5 times longer, up to ``batch_poll_max_s``."""
    batch_poll_max_s: float = 300.0
    """With ``batch_api``: the longest wait between two status checks."""
    batch_discount: float = 0.5
    """The share of both prices a batch call saves (OpenAI and Anthropic bill batches at half
    price), for the cost estimate."""


ClientT = TypeVar("ClientT")


@dataclass(frozen=True)
class BatchStatus:
    """A provider batch as one status check saw it."""

    ended: bool
    """Whether processing ended (its results can be read)."""
    status: str
    """The provider's word for the state (``in_progress``, ``validating``, ``ended``…)."""


class BatchError(RuntimeError):
    """A provider batch, or one request in it, that gave no answer.

    ``retryable``: whether sending the request again may answer it (a server error, an
    expired or cancelled request), as opposed to a request the provider refused."""

    def __init__(self, message: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class TextOnlyModelError(ValueError):
    """A prompt with an image for an API model configured with ``vision: false``: raised by a
    plugin's request builder, it fails the sample rather than sending the image anyway."""

    def __init__(self, model: str) -> None:
        super().__init__(
            f"{model} is configured text-only (model.vision=false) but the prompt holds an image"
        )


class APIModel(Model, Generic[ClientT]):
    """A model behind a remote API, called once per prompt (SDK-free: plugins bring the client).

    Its config (an :class:`APIModelConfig`, or any config with these two fields) has
    ``vision``, whether images are sent (:attr:`accepts_images`), and ``concurrency``, how many
    calls may be in flight (:attr:`max_concurrency`; None for the run's). ``generate`` fans the
    prompts out to :meth:`call_api`, concurrently. The SDK client is made on the first
    :meth:`client` call by :meth:`make_client`, kept, and closed by :meth:`aclose`.

    A plugin whose provider has a batch API sets :attr:`has_batch_api` and implements
    :meth:`batch_request`, :meth:`submit_batch`, :meth:`poll_batch` and :meth:`batch_results`;
    with ``batch_api: true`` the core gathers the run's calls into batches (chunked by
    :attr:`max_batch_requests` and :attr:`max_batch_bytes`), keeps each pending batch's id
    beside the call cache, polls and retries (:mod:`eicore.run.batches`).
    """

    has_batch_api: ClassVar[bool] = False
    max_batch_requests: ClassVar[int] = 10_000
    """Requests in one provider batch at most."""
    max_batch_bytes: ClassVar[int] = 100_000_000
    """Bytes of request bodies (JSON) in one provider batch at most."""

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.accepts_images = config.vision
        self._client: ClientT | None = None
        """Held here: an SDK client nobody references is collected and closes its connections."""
        _check_limits(config)
        if self.batch_api and not self.has_batch_api:
            from eicore.run.settings import ConfigError

            name = getattr(config, "plugin", type(self).__name__)
            raise ConfigError(
                f"model={name} has no batch API: drop model.batch_api=true "
                "(model=openai and model=anthropic have one)"
            )

    @property
    def max_concurrency(self) -> int | None:
        concurrency: int | None = self.config.concurrency
        return concurrency

    @property
    def batch_api(self) -> bool:
        """Whether calls go out as provider batches (``model.batch_api``)."""
        return bool(getattr(self.config, "batch_api", False))

    @property
    def in_flight(self) -> int | None:
        if not self.batch_api:
            return None
        samples: int | None = getattr(self.config, "batch_samples", None)
        return samples or sys.maxsize

    def client(self) -> ClientT:
        """The SDK client, made on the first call and kept until :meth:`aclose`."""
        if self._client is None:
            self._client = self.make_client()
        return self._client

    def make_client(self) -> ClientT:
        """A new SDK client (async, with the config's key, URL, timeout and retries)."""
        raise NotImplementedError(f"{type(self).__name__} makes no SDK client")

    def sdk_options(self, http_client: Callable[..., Any]) -> dict[str, Any]:
        """Keyword arguments of an httpx-based SDK client (openai's, anthropic's) but the key:
        the config's ``base_url``, ``timeout`` and ``max_retries``, and ``http_client(...)``
        (the SDK's httpx client class) with a response hook that shows ``run.concurrency=auto``
        every HTTP answer, retried ones included (:func:`~eicore.report_throttle`)."""
        from eicore.run.concurrency import throttle_hook

        return {
            "base_url": self.config.base_url,
            "timeout": self.config.timeout,
            "max_retries": self.config.max_retries,
            "http_client": http_client(event_hooks={"response": [throttle_hook]}),
        }

    async def close_client(self, client: ClientT) -> None:
        """Close ``client``; by default its async ``close()``."""
        await client.close()  # type: ignore[attr-defined]

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await self.close_client(client)

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

    def batch_request(self, prompt: Prompt) -> dict[str, Any]:
        """The request body of ``prompt`` in one line of a provider batch (JSON-able)."""
        raise NotImplementedError(f"{type(self).__name__} has no batch API")

    async def submit_batch(self, requests: Mapping[str, dict[str, Any]]) -> str:
        """Create one provider batch of ``requests`` (custom id → :meth:`batch_request`'s
        body); return the provider's batch id."""
        raise NotImplementedError(f"{type(self).__name__} has no batch API")

    async def poll_batch(self, batch_id: str) -> BatchStatus:
        """One status check; raises :class:`BatchError` for a batch that failed as a whole."""
        raise NotImplementedError(f"{type(self).__name__} has no batch API")

    async def batch_results(self, batch_id: str) -> dict[str, Completion | Exception]:
        """An ended batch's outcome per custom id: the completion, or the error of that request
        (:class:`BatchError`, or an :class:`~eicore.AnswerError` such as a refusal)."""
        raise NotImplementedError(f"{type(self).__name__} has no batch API")


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
    samples = getattr(config, "batch_samples", None)
    if samples is not None and samples < 1:
        raise ConfigError(f"model.batch_samples={samples}: give 1 or more (null: every sample)")
    for name in ("batch_poll_s", "batch_poll_max_s"):
        if (seconds := getattr(config, name, 1)) is not None and seconds <= 0:
            raise ConfigError(f"model.{name}={seconds}: give the seconds between checks, above 0")
    if not 0 <= (discount := getattr(config, "batch_discount", 0)) < 1:
        raise ConfigError(f"model.batch_discount={discount}: give a share from 0 to below 1")


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

    async def prepare(self, samples: Sequence[Sample]) -> None:  # noqa: B027 - optional hook
        """Get ready to judge answers to ``samples`` (the samples a run or ``eicore score`` is
        about to judge, before the first :meth:`judge`): work shared by many samples can be
        done once here, e.g. embedding every ground-truth trigger in one batch. A no-op by
        default; the judgments must not depend on it."""

    async def aclose(self) -> None:  # noqa: B027 - an optional hook, a no-op by default
        """Release what the judge holds; called once at the end of a run."""


class Metric(abc.ABC):
    """Aggregates a run's records into named scores for metrics.json."""

    def __init__(self, config: Any) -> None:
        self.config = config

    @abc.abstractmethod
    def compute(self, records: Sequence[SampleRecord]) -> dict[str, Any]: ...
