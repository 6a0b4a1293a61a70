"""Language selection: Chinese unless the person chose otherwise.

Django's LocaleMiddleware would follow the browser's Accept-Language, so a
phone set to English would get English without asking. The product's default
is zh-hans; English is one click away and remembered in the language cookie.
"""

from django.conf import settings
from django.utils import translation


class DefaultChineseLocaleMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        supported = {code for code, _name in settings.LANGUAGES}
        language = chosen if chosen in supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", request.LANGUAGE_CODE)
        return response
