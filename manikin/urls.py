app_name = "manikin"
urlpatterns: list = []
