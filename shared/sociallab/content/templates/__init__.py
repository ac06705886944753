"""Templates as data: the spec (`spec`), the placeholder formatter (`formatting`) and the registry.

from sociallab.content.templates import get_template, validate_spec, sync_builtin_templates
"""

from __future__ import annotations

from sociallab.content.templates.formatting import fill, render_caption, render_text
from sociallab.content.templates.registry import (
    SyncResult,
    TemplateRecord,
    builtin_record,
    builtin_specs,
    get_template,
    get_template_by_id,
    list_templates,
    save_workspace_template,
    sync_builtin_templates,
    validate_spec,
)
from sociallab.content.templates.spec import CANVAS_SIZES, FORMATS, Format, TemplateSpec

__all__ = [
    "CANVAS_SIZES",
    "FORMATS",
    "Format",
    "SyncResult",
    "TemplateRecord",
    "TemplateSpec",
    "builtin_record",
    "builtin_specs",
    "fill",
    "get_template",
    "get_template_by_id",
    "list_templates",
    "render_caption",
    "render_text",
    "save_workspace_template",
    "sync_builtin_templates",
    "validate_spec",
]
