"""Frozen pydantic models for everything a project declares (project, profiles, sources, models)."""

from .duration import parse_duration, format_duration
from .models import FeatureRef, LabelDef, ModelDef, ModelsFile
from .profiles import Profile, ProfilesFile, Target
from .project import ProjectConfig
from .sources import ColumnDef, DimensionDef, SourceDef, SourcesFile

__all__ = [
    "ColumnDef", "DimensionDef", "FeatureRef", "LabelDef", "ModelDef", "ModelsFile", "Profile", "ProfilesFile",
    "ProjectConfig", "SourceDef", "SourcesFile", "Target", "format_duration", "parse_duration",
]
