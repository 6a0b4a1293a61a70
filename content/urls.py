from django.urls import path

from content import views

app_name = "content"

urlpatterns = [
    path("search/", views.search, name="search"),
    # Course illustrations only (the view refuses every other folder: ID photos live under media/photos/).
    path("media/<path:path>", views.public_image, name="public_image"),
]
