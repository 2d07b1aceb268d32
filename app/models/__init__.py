"""Every model, imported here so that Alembic and ``Base.metadata`` see them all."""

from app.models.agents import Origination, QueueMember
from app.models.audit import AuditEvent, SettingDigest
from app.models.base import Base
from app.models.calls import Call, CallCustomer, CallLeg
from app.models.cases import (
    Callback,
    CallbackAttempt,
    CallNote,
    CaseCategory,
    CaseSla,
    Contract,
    Task,
    TrackingCode,
    TrackingCodeCall,
)
from app.models.customers import (
    TERM_ANY,
    TERM_COMPANY,
    TERM_TAG,
    Customer,
    CustomerKind,
    CustomerPhone,
    CustomerTerm,
    Priority,
)
from app.models.integrations import (
    IntegrationEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from app.models.messaging import SmsMessage, SmsOptOut, SmsTrigger, SurveyAnswer
from app.models.pops import PopEvent
from app.models.qa import QaForm, QaReview
from app.models.recordings import Recording, RecordingAudit
from app.models.supervision import AgentActivity, SpySession
from app.models.users import AuthToken, LoginThrottle, Role, User, UserDevice

__all__ = [
    "TERM_ANY",
    "TERM_COMPANY",
    "TERM_TAG",
    "AgentActivity",
    "AuditEvent",
    "AuthToken",
    "Base",
    "Call",
    "CallCustomer",
    "CallLeg",
    "CallNote",
    "Callback",
    "CallbackAttempt",
    "CaseCategory",
    "CaseSla",
    "Contract",
    "Customer",
    "CustomerKind",
    "CustomerPhone",
    "CustomerTerm",
    "IntegrationEvent",
    "LoginThrottle",
    "Origination",
    "PopEvent",
    "Priority",
    "QaForm",
    "QaReview",
    "QueueMember",
    "Recording",
    "RecordingAudit",
    "Role",
    "SettingDigest",
    "SmsMessage",
    "SmsOptOut",
    "SmsTrigger",
    "SpySession",
    "SurveyAnswer",
    "Task",
    "TrackingCode",
    "TrackingCodeCall",
    "User",
    "UserDevice",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
