"""Views of the course site outside Wagtail's page tree: search, and public image files."""

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django.views.static import serve
from wagtail.models import Page

from content.search import search_pages

MAX_QUERY_CHARS = 100
PER_PAGE = 20
PUBLIC_MEDIA_FOLDERS = ("images", "original_images")  # Wagtail's originals and renditions


def _breadcrumbs(pages) -> dict[int, list]:
    """For each page, the titles of its course and module (course › module), in one query."""
    wanted = {page.path[: n * page.steplen] for page in pages for n in range(4, page.depth)}
    ancestors = {p.path: p for p in Page.objects.filter(path__in=wanted).only("id", "title", "path", "url_path")}
    return {page.pk: [ancestors[page.path[: n * page.steplen]] for n in range(4, page.depth)
                      if page.path[: n * page.steplen] in ancestors]
            for page in pages}


@require_GET
def search(request):
    query = (request.GET.get("q") or "").strip()[:MAX_QUERY_CHARS]
    results = search_pages(query) if query else []
    paginator = Paginator(results, PER_PAGE)
    page_obj = paginator.get_page(request.GET.get("page"))
    crumbs = _breadcrumbs(page_obj.object_list)
    rows = [{"page": page, "crumbs": crumbs.get(page.pk, []), "kind": page._meta.verbose_name}
            for page in page_obj.object_list]
    return render(request, "content/search.html", {
        "query": query, "rows": rows, "page_obj": page_obj, "count": len(results),
    })


@require_GET
def public_image(request, path):
    """Wagtail images and their renditions (course illustrations: public), for servers without nginx
    in front (nginx serves /media/images/ and /media/original_images/ from disk itself). Nothing else
    under MEDIA_ROOT is served: ID photos are personal data."""
    parts = path.split("/")
    if len(parts) != 2 or parts[0] not in PUBLIC_MEDIA_FOLDERS or parts[1] in ("", ".", ".."):
        raise Http404
    response = serve(request, path, document_root=settings.MEDIA_ROOT)
    # An SVG opened on its own must not run scripts.
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response
