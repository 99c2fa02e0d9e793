"""Every table of the decision service, each from its concept's folder: Alembic's metadata
(migrations/env.py) and the runtime load them together so that foreign keys between concepts
resolve."""
from services.decision.alerts.models import UrgentAlert
from services.decision.audit.models import Appeal, AuditEvent
from services.decision.cases.models import Case, CaseReport, LegalHold
from services.decision.casework.models import CaseAssignment, CaseNote, ReasonTemplate, SavedFilter, ViewerSetting
from services.decision.criteria.models import Clause, CriteriaAmendmentDue, CriteriaVersion
from services.decision.decisions.models import Decision
from services.decision.inquiries.models import PosterInquiry, PosterReply
from services.decision.models import Base, Inbox, Outbox, ParkedEvent, PeriodicJob
from services.decision.users.models import ApiToken, SpecialistAppointment, User, WebSession

__all__ = ["Appeal", "ApiToken", "AuditEvent", "Base", "Case", "CaseAssignment", "CaseNote", "CaseReport", "Clause", "CriteriaAmendmentDue",
           "CriteriaVersion", "Decision", "Inbox", "LegalHold", "Outbox", "ParkedEvent", "PeriodicJob",
           "PosterInquiry", "PosterReply", "ReasonTemplate", "SavedFilter", "SpecialistAppointment", "User",
           "UrgentAlert", "ViewerSetting", "WebSession"]
