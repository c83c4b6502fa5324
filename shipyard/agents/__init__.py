"""The eight agents. Each module is one role; each `AgentTask` one prompt section + schema."""

from . import docs, finops, governance, implementer, planner, security, sre, test_engineer
from .base import AgentTask, Review, ReviewFinding, ReviewTask, TextTask

__all__ = [
           "REVIEWERS",
           "AgentTask",
           "Review",
           "ReviewFinding",
           "ReviewTask",
           "TextTask",
           "docs",
           "finops",
           "governance",
           "implementer",
           "planner",
           "security",
           "sre",
           "test_engineer",
]

# G5's parallel reviewers, by role. Security and Test must both approve (dual review).
REVIEWERS = {
    "security": security.REVIEW,
    "test": test_engineer.REVIEW,
    "sre": sre.REVIEW,
    "governance": governance.REVIEW,
    "finops": finops.REVIEW,
    "docs": docs.REVIEW,
}
