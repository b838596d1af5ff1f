"""The six facts about a patient that tailor their plan: defined here once.

Each is yes, no or not known yet (a nullable boolean field of the same name on Patient).
The names order the health questions, the coordinator's form and the API's fields; the labels
are how the care team reads them; the topics, how the patient reads them in a message.
"""

from django.utils.translation import gettext_lazy as _

FACTS = {
    "smoker": _("Smokes or uses nicotine"),
    "takes_nsaids": _("Takes NSAIDs (ibuprofen, naproxen, aspirin for pain)"),
    "on_blood_thinners": _("Takes blood thinners"),
    "diabetic": _("Diabetic"),
    "bone_density_concern": _("Bone density concern (osteoporosis)"),
    "heart_or_lung_condition": _("Heart or lung condition"),
}
FACT_NAMES = tuple(FACTS)

FACT_TOPICS = {
    "smoker": _("Smoking or nicotine"),
    "takes_nsaids": _("Anti-inflammatory painkillers"),
    "on_blood_thinners": _("Blood thinners"),
    "diabetic": _("Diabetes"),
    "bone_density_concern": _("Bone density concern"),
    "heart_or_lung_condition": _("Heart or lung condition"),
}
