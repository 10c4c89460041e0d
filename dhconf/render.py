"""The Jinja environment over the templates shipped in ``dhconf/templates``."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from dhconf.errors import DhconfError


class TemplateError(DhconfError):
    code = "template_error"


@lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("dhconf", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render(name: str, **context: Any) -> str:
    """Render template ``name``; a template fault becomes one error naming the template and line."""
    import jinja2

    try:
        return _environment().get_template(name).render(**context)
    except jinja2.TemplateSyntaxError as err:
        raise TemplateError(f"template {err.name or name} line {err.lineno}: {err.message}") from err
    except jinja2.UndefinedError as err:
        raise TemplateError(f"template {name}: {err.message}") from err
