"""StreamField blocks of a lesson body (the names are the contract with the course loader and study.js).

Every block renders itself through a template in ``content/templates/content/blocks/``. A practice
question's correct choices and explanation are never rendered into the page: the study endpoint
(``POST /study/answer/``) reveals them after an answer.
"""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.documents.blocks import DocumentChooserBlock
from wagtail.images.blocks import ImageChooserBlock

VIDEO_EXTENSIONS = (".mp4", ".webm")
CAPTION_EXTENSIONS = (".vtt",)


def _extension_of(document) -> str:
    name = (getattr(document, "file", None) and document.file.name) or ""
    return "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""


class ImageBlock(blocks.StructBlock):
    image = ImageChooserBlock(label=_("image"))
    caption = blocks.CharBlock(required=False, label=_("caption"))
    alt = blocks.CharBlock(label=_("alternative text"),
                           help_text=_("What the image shows, for people who cannot see it."))

    class Meta:
        icon = "image"
        label = _("Image")
        template = "content/blocks/image.html"


class VideoBlock(blocks.StructBlock):
    video = DocumentChooserBlock(label=_("video file"), help_text=_("An MP4 or WebM file."))
    poster = ImageChooserBlock(label=_("poster image"))
    captions = DocumentChooserBlock(label=_("captions"), help_text=_("A WebVTT (.vtt) file in Chinese."))
    duration_s = blocks.FloatBlock(min_value=1, label=_("duration (seconds)"))
    title = blocks.CharBlock(label=_("title"))

    class Meta:
        icon = "media"
        label = _("Video")
        template = "content/blocks/video.html"

    def clean(self, value):
        value = super().clean(value)
        errors = {}
        if value.get("video") and _extension_of(value["video"]) not in VIDEO_EXTENSIONS:
            errors["video"] = ValidationError(_("The video must be an MP4 or WebM file."))
        if value.get("captions") and _extension_of(value["captions"]) not in CAPTION_EXTENSIONS:
            errors["captions"] = ValidationError(_("The captions must be a WebVTT (.vtt) file."))
        if errors:
            raise blocks.StructBlockValidationError(block_errors=errors)
        return value


class CalloutBlock(blocks.StructBlock):
    title = blocks.CharBlock(label=_("title"))
    text = blocks.RichTextBlock(label=_("text"))


class KeypointBlock(CalloutBlock):
    class Meta:
        icon = "pick"
        label = _("Key point")
        template = "content/blocks/keypoint.html"


class WarningBlock(CalloutBlock):
    class Meta:
        icon = "warning"
        label = _("Warning")
        template = "content/blocks/warning.html"


class StepBlock(blocks.StructBlock):
    title = blocks.CharBlock(label=_("title"))
    text = blocks.TextBlock(label=_("text"))
    image = ImageChooserBlock(required=False, label=_("image"))

    class Meta:
        icon = "list-ol"
        label = _("Step")


class StepsBlock(blocks.StructBlock):
    title = blocks.CharBlock(label=_("title"))
    steps = blocks.ListBlock(StepBlock(), min_num=1, label=_("steps"))

    class Meta:
        icon = "list-ol"
        label = _("Numbered steps")
        template = "content/blocks/steps.html"


class ChoiceBlock(blocks.StructBlock):
    text = blocks.CharBlock(label=_("text"))
    correct = blocks.BooleanBlock(required=False, label=_("correct"))

    class Meta:
        icon = "radio-full"
        label = _("Choice")


class QuestionBlock(blocks.StructBlock):
    prompt = blocks.TextBlock(label=_("question"))
    choices = blocks.ListBlock(ChoiceBlock(), min_num=2, label=_("choices"))
    explanation = blocks.RichTextBlock(label=_("explanation"),
                                       help_text=_("Shown after the trainee answers, never before."))

    class Meta:
        icon = "help"
        label = _("Practice question")
        template = "content/blocks/question.html"

    def clean(self, value):
        value = super().clean(value)
        if not any(choice.get("correct") for choice in value.get("choices") or []):
            raise blocks.StructBlockValidationError(
                block_errors={"choices": ValidationError(_("Mark at least one choice as correct."))})
        return value

    def get_context(self, value, parent_context=None):
        context = super().get_context(value, parent_context=parent_context)
        context["multiple"] = is_multiple(value)
        # Only the texts, in order: the template cannot leak which choice is correct.
        context["choice_texts"] = [choice["text"] for choice in value["choices"]]
        return context


def is_multiple(question_value) -> bool:
    """A question with more than one correct choice is answered with check boxes."""
    return sum(1 for choice in question_value["choices"] if choice.get("correct")) > 1


LESSON_BODY_BLOCKS = [
    ("text", blocks.RichTextBlock(label=_("Text"), icon="doc-full", template="content/blocks/text.html")),
    ("image", ImageBlock()),
    ("video", VideoBlock()),
    ("keypoint", KeypointBlock()),
    ("warning", WarningBlock()),
    ("steps", StepsBlock()),
    ("question", QuestionBlock()),
]
