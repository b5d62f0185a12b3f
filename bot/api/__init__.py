"""The public plugin API of arbot: the one surface a plugin imports from the host.

Everything a plugin needs is here, listed in ``__all__``: the hook marker, the base classes of the
component kinds (:class:`Exchange`, :class:`Strategy`, :class:`RiskCheck`, :class:`Notifier`,
:class:`Service`), the :class:`Context` components receive, the :class:`Operator` that commands,
jobs, ``startup``/``shutdown`` and services use to read and control the bot, command and job
types, settings helpers, errors, and the value types of :mod:`bot.domain`.

Four public submodules, each imported on its own (and each name in them when first used) so
that ``import bot.api`` stays light: :mod:`bot.api.kit` (what venue authors share: order books,
the reconnecting feed, the polling venue, rate limits, recording, pool models),
:mod:`bot.api.storage` (a plugin's own tables), :mod:`bot.api.ledger` (the one ledger's figures
and display rounding), :mod:`bot.api.backtest` (the steppable-venue and report contracts) and
:mod:`bot.api.testing` (a real bot in a test).

Every other module under ``bot/`` is private to the host: it may change in any release. A test
(``tests/test_layers.py``) fails when a first-party plugin imports one.
"""

from typing import TYPE_CHECKING, Any

from .. import hookimpl
from ..bus import EventBus
from ..domain import (
    BPS,
    ORDER_FEATURES,
    ZERO,
    Alert,
    AlertLevel,
    Balance,
    ExecutionResult,
    FeedState,
    FeedStatus,
    Fill,
    FillApplied,
    Liquidity,
    MarketInfo,
    Opportunity,
    Order,
    OrderIntent,
    OrderReport,
    OrderState,
    OrderStatus,
    OrderType,
    OrderUpdate,
    PoolUpdate,
    Side,
    SwapFee,
    TimeInForce,
    Trade,
    Transfer,
    TransferStatus,
    TransferTerms,
    split_symbol,
)
from ..settings import ConfigError, ConfigIssue, NoSettings, Secret, option
from ._core import (
    FLEET_ORIGIN,
    ROLE_RANK,
    VERB_ROLES,
    AuditEntry,
    Caller,
    Command,
    CommandDispatcher,
    CommandHandler,
    Component,
    Context,
    Exchange,
    ExchangeError,
    ExecutionLeg,
    ExecutionView,
    FeedView,
    FleetLink,
    FleetMember,
    InsufficientFunds,
    Job,
    JobFunc,
    LimitUse,
    Notifier,
    Operator,
    OrderNotFound,
    PermanentError,
    PluginView,
    PortfolioView,
    PostOnlyWouldCross,
    RateLimited,
    Refused,
    Reply,
    RiskCheck,
    RiskTrip,
    RiskView,
    Role,
    Service,
    Strategy,
    TransferVenue,
    TransientError,
    UnknownOutcome,
    alert_origin,
)

if TYPE_CHECKING:
    from ..domain import BookUpdate, MarketEvent
else:
    def __getattr__(name: str) -> Any:
        """``BookUpdate`` and ``MarketEvent`` (:mod:`bot.domain`'s, from the book view's module), imported when first
        read: ``arbot --help`` loads every plugin's registration, and none of them needs the book view."""
        if name not in ("BookUpdate", "MarketEvent"):
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        from .. import domain

        value = getattr(domain, name)
        globals()[name] = value  # once: later look-ups are plain attribute reads
        return value

__all__ = [
    # hooks
    "hookimpl",
    # components
    "ORDER_FEATURES", "Component", "Context", "EventBus", "Exchange", "Notifier", "PortfolioView", "RiskCheck",
    "Service", "Strategy", "TransferVenue",
    # operating the bot: commands, jobs, the operator
    "ROLE_RANK", "VERB_ROLES", "Caller", "Command", "CommandDispatcher", "CommandHandler", "FleetLink", "FleetMember",
    "FLEET_ORIGIN", "alert_origin", "Job", "JobFunc",
    "LimitUse", "Operator", "PluginView", "Refused", "Reply", "RiskTrip", "RiskView", "Role",
    # the operator's read models
    "AuditEntry", "ExecutionLeg", "ExecutionView", "FeedView",
    # errors an exchange raises
    "ExchangeError", "InsufficientFunds", "OrderNotFound", "PermanentError", "PostOnlyWouldCross", "RateLimited",
    "TransientError", "UnknownOutcome",
    # settings
    "ConfigError", "ConfigIssue", "NoSettings", "Secret", "option",
    # value types
    "BPS", "ZERO", "Alert", "AlertLevel", "Balance", "BookUpdate", "ExecutionResult", "FeedState", "FeedStatus", "Fill",
    "FillApplied",
    "Liquidity", "MarketEvent", "MarketInfo", "Opportunity", "Order", "OrderIntent", "OrderReport", "OrderState",
    "OrderStatus", "OrderType", "OrderUpdate", "PoolUpdate", "Side", "SwapFee", "TimeInForce", "Trade", "Transfer",
    "TransferStatus", "TransferTerms", "split_symbol",
]
