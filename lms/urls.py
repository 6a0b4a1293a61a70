from django.urls import include, path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls

# Uploaded media (ID photos) is personal data: it is served only through permission-checked views.
urlpatterns = [
    path("admin/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("lms.urls_core")),
    path("", include("manikin.urls", namespace="manikin")),
    path("classes/", include("courses.urls_classes", namespace="classes")),
    path("study/", include("courses.urls", namespace="courses")),
    path("exams/", include("exams.urls", namespace="exams")),
    # Certificates: public verification (/verify/, the QR's /v/<payload>, /api/v1/certificates/…), staff
    # pages (/certificates/…), the issuer profile and public keys.
    path("", include("certificates.urls", namespace="certificates")),
    # Instructors: profiles, teaching records, feedback, the annual assessment (/instructors/…, /my/teaching/…).
    path("", include("instructors.urls", namespace="instructors")),
    # Studios (名师工作室): public pages (/studios/…) and their management.
    path("", include("instructors.urls_studios", namespace="studios")),
    # Unannounced inspections (飞行检查): plans, the inspector's phone checklist, findings and follow-ups.
    path("inspections/", include("inspections.urls", namespace="inspections")),
    path("awareness/", include("courses.urls_awareness", namespace="awareness")),
    path("dashboards/targets/", include("dashboards.urls_targets", namespace="dashboard_targets")),
    path("dashboards/", include("dashboards.urls", namespace="dashboards")),
    # Course search and the course illustrations (media/images/ only) before Wagtail's page tree.
    path("", include("content.urls", namespace="content")),
    # Wagtail's page tree last: it serves the home page and everything under it.
    path("", include(wagtail_urls)),
]

# Branded error pages (lms/templates/403.html, 404.html, 500.html); 403 and 404 show our own reason.
handler403 = "lms.errors.permission_denied"
handler404 = "lms.errors.page_not_found"
