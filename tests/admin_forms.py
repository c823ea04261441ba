"""Posting a Django admin form back as a browser would, from the page the admin rendered."""

from __future__ import annotations

from typing import Any

from django import forms
from django.test import Client
from django.urls import reverse


def form_data(form: forms.BaseForm) -> dict[str, Any]:
    """What a browser posts back for ``form`` as the page rendered it."""
    data: dict[str, Any] = {}
    for field in form:
        if field.field.disabled:
            continue
        widget, value = field.field.widget, field.value()
        if isinstance(widget, forms.CheckboxInput):
            if widget.check_test(value):
                data[field.html_name] = "on"
        elif isinstance(widget, forms.MultiWidget):
            parts = value if isinstance(value, list | tuple) else widget.decompress(value)
            for suffix, part_widget, part in zip(
                widget.widgets_names, widget.widgets, parts, strict=True
            ):
                data[field.html_name + suffix] = part_widget.format_value(part) or ""
        elif value is not None:
            formatted = widget.format_value(value)
            formatted = formatted[0] if isinstance(formatted, list) else formatted
            data[field.html_name] = "" if formatted is None else formatted
    return data


def admin_change_form_post(admin_client: Client, view: str, obj: Any, **changes: Any):
    """Submits the admin's change form of ``obj`` as rendered, with ``changes`` applied."""
    url = reverse(view, args=[obj.pk])
    page = admin_client.get(url)
    data = form_data(page.context["adminform"].form)
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        data.update(form_data(formset.management_form))
        for form in formset.forms:
            data.update(form_data(form))
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = "on" if value is True else value
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    return response
