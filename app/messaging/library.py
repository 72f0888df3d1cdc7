"""The template library («قالب‌های پیام»): ready texts to start a campaign from.

The built-ins are written for this product, in the Persian an Iranian shop texts its
customers in; each placeholder that may be empty has a fallback that still reads well
(«به جمع مشتری‌های ما» when the business name is not set). They are added on first use,
one row per missing key, so a fresh install and an upgraded one get them alike; the owner
may edit them (the key stays) but not delete them.
"""

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db
from app.messaging.models import MessageTemplate
from app.messaging.rendering import text_problems
from app.persian import normalize_text, show_number
from app.types import utcnow

TEMPLATE_NAME_MAX = 100
TEMPLATE_TEXT_MAX = 1000  # as a campaign's text

# key → (name, text). The order is the library's.
BUILTIN_TEMPLATES = {
    "welcome": (
        "خوش‌آمدگویی",
        "سلام {نام|دوست عزیز}! خوشحالیم که به جمع مشتری‌های {نام کسب‌وکار|ما} پیوستی. "
        "هر سؤالی داشتی، همین‌جا جواب می‌دهیم.",
    ),
    "birthday": (
        "تبریک تولد",
        "{نام|دوست} عزیز، تولدت مبارک! امیدواریم سال تازه‌ات پر از اتفاق‌های خوب باشد. "
        "هدیهٔ تولدت در {نام کسب‌وکار|فروشگاه} منتظرت است.",
    ),
    "purchase_anniversary": (
        "سالگرد اولین خرید",
        "{نام|دوست} عزیز، یک سال از اولین خریدت از {نام کسب‌وکار|ما} گذشت. ممنون که "
        "این مدت همراه ما بودی؛ به همین مناسبت یک تخفیف ویژه برایت کنار گذاشته‌ایم.",
    ),
    "yalda": (
        "شب یلدا",
        "یلدا مبارک! {نام|دوست} عزیز، بلندترین شب سال را کنار عزیزانت به خوشی بگذرانی. "
        "تا آخر هفته، همهٔ خریدهایت با ۱۰٪ تخفیف.",
    ),
    "nowruz": (
        "تبریک نوروز",
        "{عنوان} {نام کامل|همراه همیشگی} عزیز، نوروزتان پیروز! سال نو را به شما و "
        "خانوادهٔ گرامی‌تان تبریک می‌گوییم و سالی پر از سلامتی و شادی آرزو داریم.",
    ),
    "winback": (
        "بازگرداندن مشتری",
        "{نام|دوست} عزیز، دلمون برات تنگ شده! خیلی وقته بهمون سر نزدی. با نشان دادن "
        "همین پیامک تا آخر هفته ۱۵٪ تخفیف داری. منتظرتیم!",
    ),
    "survey": (
        "نظرسنجی پس از خرید",
        "{نام|مشتری} عزیز، ممنون از خریدتان. از ۰ تا ۱۰، چقدر احتمال دارد "
        "{نام کسب‌وکار|ما} را به دوستانتان پیشنهاد کنید؟ لطفاً فقط عدد را پاسخ دهید.",
    ),
    "discount": (
        "تخفیف با مهلت",
        "{نام|دوست} عزیز، ۲۰٪ تخفیف ویژهٔ شما فقط تا پایان ۳۰ آذر اعتبار دارد. "
        "فرصت را از دست ندهید!",
    ),
    "order_thanks": (
        "تشکر از سفارش",
        "{نام|مشتری} عزیز، سفارش شما ثبت شد. از اعتمادتان به {نام کسب‌وکار|ما} سپاسگزاریم.",
    ),
}


def ensure_builtin_templates() -> None:
    """Add the built-ins whose key is missing; the caller commits.

    A built-in whose name the owner has already taken for a template of their own is
    left out (their template stays as it is). Two requests adding them at once cannot
    both succeed: the second's rows conflict and are skipped.
    """
    have = set(db.session.scalars(select(MessageTemplate.key).where(MessageTemplate.builtin)))
    missing = [key for key in BUILTIN_TEMPLATES if key not in have]
    if not missing:
        return
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    rows = [
        {"key": key, "name": BUILTIN_TEMPLATES[key][0], "body": BUILTIN_TEMPLATES[key][1]}
        for key in missing
    ]
    for row in rows:
        db.session.execute(
            dialect.insert(MessageTemplate)
            .values(**row, builtin=True, created_at=utcnow())
            .on_conflict_do_nothing()
        )


def all_templates() -> list[MessageTemplate]:
    """Every template, built-ins first in the library's order, then the owner's by name."""
    ensure_builtin_templates()
    rows = db.session.scalars(select(MessageTemplate)).all()
    order = list(BUILTIN_TEMPLATES)
    return sorted(
        rows,
        key=lambda row: (0, order.index(row.key), "") if row.key in order else (1, 0, row.name),
    )


class TemplateError(ValueError):
    """Why a template cannot be saved or deleted; ``field`` names what is wrong."""

    def __init__(self, message: str, field: str = "name"):
        super().__init__(message)
        self.message = message
        self.field = field


def _checked(name: str, body: str, template_id: int | None = None) -> tuple[str, str]:
    name = normalize_text(name)
    body = (body or "").replace("\r\n", "\n").strip()
    if not name:
        raise TemplateError(_("Give the template a name."))
    if len(name) > TEMPLATE_NAME_MAX:
        raise TemplateError(
            _("At most %(count)s characters.", count=show_number(TEMPLATE_NAME_MAX))
        )
    if not body:
        raise TemplateError(_("Write the message text."), "body")
    if len(body) > TEMPLATE_TEXT_MAX:
        raise TemplateError(
            _("At most %(count)s characters.", count=show_number(TEMPLATE_TEXT_MAX)), "body"
        )
    problems = text_problems(body)
    if problems:
        raise TemplateError(" ".join(problems), "body")
    taken = db.session.scalar(
        select(MessageTemplate.id).where(
            MessageTemplate.name == name, MessageTemplate.id != (template_id or 0)
        )
    )
    if taken is not None:
        raise TemplateError(_("Another template is already named “%(name)s”.", name=name))
    return name, body


def create_template(name: str, body: str) -> MessageTemplate:
    """Add one of the owner's templates; TemplateError says what is wrong. Caller commits."""
    name, body = _checked(name, body)
    template = MessageTemplate(name=name, body=body, builtin=False)
    db.session.add(template)
    db.session.flush()
    return template


def update_template(template: MessageTemplate, name: str, body: str) -> None:
    """Change a template's name and text (a built-in's too). Caller commits."""
    template.name, template.body = _checked(name, body, template.id)
    db.session.flush()


def delete_template(template: MessageTemplate) -> None:
    """Remove one of the owner's templates; a built-in is refused. Caller commits."""
    if template.builtin:
        raise TemplateError(_("A built-in template can be edited but not deleted."))
    db.session.delete(template)
    db.session.flush()
