"""Forms of the pages: a service's refusal shown next to the field it is about.

Pages validate with Django forms for the shape of the input (a number, a choice) and then call
the same service as the API, which decides. An ``ApplicationError`` names the fields it is about
(``exc.fields``, in the API's field names); ``service_error`` puts its full message next to the
matching form field (or at the top of the form), so the page and the API refuse alike and the
person's typed values stay in the form.
"""

from __future__ import annotations

from collections.abc import Mapping

from django import forms

from apps.core.exceptions import ApplicationError


def service_error(
    form: forms.Form, exc: ApplicationError, field_map: Mapping[str, str] | None = None
) -> None:
    """Attach ``exc`` to ``form``: next to each named field that the form has (API names are
    mapped with ``field_map``), else as a non-field error."""
    field_map = field_map or {}
    placed = False
    for name in exc.fields:
        target = field_map.get(name, name)
        if target in form.fields and not placed:
            form.add_error(target, exc.message)
            placed = True
    if not placed:
        form.add_error(None, exc.message)


class MoneyInput(forms.TextInput):
    """A money input: text (so "1,000.50" is allowed), numeric keyboard on phones."""

    def __init__(self, attrs=None):
        super().__init__({"inputmode": "decimal", "autocomplete": "off", **(attrs or {})})
