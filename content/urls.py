from django.urls import path, re_path

from content import views

app_name = "content"

urlpatterns = [
    path("search/", views.search, name="search"),
    # Course illustrations only; never other uploads (ID photos live under media/photos/).
    re_path(r"^media/(?P<path>(?:images|original_images)/[^/]+)$", views.public_image, name="public_image"),
]
