"""Keep the lesson cache honest: any change to the page tree starts a new tree generation
(content.rendering), so cached lesson pages (their body and previous/next links) are rendered afresh."""

from django.db.models.signals import post_delete, post_save
from wagtail.models import Page
from wagtail.signals import page_published, page_unpublished, post_page_move

from content.rendering import bump_tree_generation


def _page_changed(sender, instance=None, **kwargs):
    if isinstance(instance, Page):
        bump_tree_generation()


def connect() -> None:
    post_save.connect(_page_changed, dispatch_uid="content-tree-save")
    post_delete.connect(_page_changed, dispatch_uid="content-tree-delete")
    page_published.connect(bump_tree_generation, dispatch_uid="content-tree-published")
    page_unpublished.connect(bump_tree_generation, dispatch_uid="content-tree-unpublished")
    post_page_move.connect(bump_tree_generation, dispatch_uid="content-tree-move")
