"""The schema groups operations under one tag per area (no "operator" beside "operators")."""

from drf_spectacular.generators import SchemaGenerator

AREAS = {"accounts", "copies", "lead", "ledger", "market", "operator", "traders"}


def test_every_operation_has_one_known_tag():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    tags = {
        (method, path): op.get("tags", [])
        for path, item in schema["paths"].items()
        for method, op in item.items()
    }
    assert all(len(t) == 1 for t in tags.values()), tags
    used = {t[0] for t in tags.values()}
    assert used == AREAS, used
    # every staff-only endpoint sits under "operator"
    operator_paths = {path for (_, path), t in tags.items() if t == ["operator"]}
    assert operator_paths == {p for (_, p) in tags if p.startswith("/api/v1/operator/")}
