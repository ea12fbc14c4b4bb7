"""The admin dashboard's "Needs attention" box: counts of what failed to mirror."""

from django import template

from apps.copies.mirroring import operations_summary

register = template.Library()


@register.simple_tag
def operations_counts() -> dict[str, int]:
    return operations_summary()
