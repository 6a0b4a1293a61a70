"""Routes (filled in by its area)."""

urlpatterns: list = []
