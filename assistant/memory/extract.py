"""Facts the user states about themselves, found by first-person patterns (no model: exact and fast on any CPU).

Only plain statements count: questions, hypotheticals, wishes, plans and other people's words are skipped,
because a wrong memory is worse than a missed one (the user can always say "remember that ...").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Words that make a subject personal: people and pets the user has, and attributes of the user.
RELATIONS = {
    "sister", "brother", "mother", "mom", "mum", "father", "dad", "wife", "husband", "partner", "boyfriend",
    "girlfriend", "fiance", "fiancee", "son", "daughter", "kid", "kids", "child", "children", "baby", "friend",
    "best friend", "boss", "manager", "colleague", "coworker", "roommate", "neighbor", "neighbour", "grandmother",
    "grandma", "grandfather", "grandpa", "aunt", "uncle", "cousin", "niece", "nephew", "parents", "family",
    "dog", "cat", "puppy", "kitten", "pet", "hamster", "rabbit", "bird", "parrot", "horse", "fish", "team",
    "teacher", "doctor", "dentist", "landlord",
}
ATTRIBUTES = {
    "name", "nickname", "birthday", "birth date", "date of birth", "age", "email", "email address", "phone",
    "phone number", "number", "address", "home address", "job", "occupation", "profession", "title", "role",
    "employer", "company", "workplace", "office", "school", "university", "college", "major", "degree",
    "hometown", "city", "country", "nationality", "language", "native language", "first language",
    "mother tongue", "religion", "height", "weight", "blood type", "zodiac sign", "star sign", "pronouns",
    "anniversary", "wedding anniversary", "diet", "allergy", "allergies", "hobby", "hobbies", "car", "bike",
    "timezone", "time zone", "username", "handle", "github", "website", "salary",
    "breed", "color", "colour", "size", "shoe size", "gender", "style", "team", "house", "apartment", "flat",
}
# Words that never belong in a subject: verbs and function words show the sentence says something else.
NOT_IN_SUBJECT = {"is", "are", "was", "were", "be", "been", "says", "said", "thinks", "thought", "told", "tells",
                  "my", "your", "his", "her", "their", "our", "the", "a", "an", "that", "this", "and", "or",
                  "if", "when", "what", "who", "which", "question", "point", "problem", "issue", "guess", "bad",
                  "code", "answer", "request", "message"}

QUESTION_START = re.compile(
    r"^(what|when|where|who|whom|whose|which|why|how|do|does|did|is|are|am|was|were|can|could|would|will|"
    r"should|shall|may|might|have|has|had|isn't|aren't|don't|doesn't|didn't|won't|wouldn't|tell me|guess)\b")
HYPOTHETICAL = re.compile(
    r"\b(if|suppose|supposing|imagine|pretend|hypothetically|what if|let's say|lets say|assume|assuming|"
    r"wish|wished|would|could|might|maybe|perhaps|probably|someday|one day|in a story|role ?play|"
    r"fictional|unless|not sure|don't know|dont know|i think|i guess|i believe|in the game|in my dream)\b")
# Lead-ins that do not change the fact: "btw, my dog is called Bori", "remember that I live in Busan".
LEAD_IN = re.compile(
    r"^(?:(?:oh|ok|okay|so|well|also|and|but|hey|hi|hello|btw|by the way|fyi|just so you know|for the record|"
    r"for your information|actually|anyway|just|please|pls|note that|note|remember that|remember|"
    r"(?:can|could|would|will) you (?:please )?(?:remember|note|keep in mind)(?: that)?|"
    r"please (?:remember|note|keep in mind)(?: that)?|keep in mind(?: that)?|don't forget(?: that)?|"
    r"i want you to know(?: that)?|you should know(?: that)?|i should mention(?: that)?|"
    r"fun fact|important)[\s,:;.!-]+)+", re.IGNORECASE)
FILLER_IN_VALUE = re.compile(r"\b(actually|really|now|still|currently|by the way|btw|though|anyway)\b,?\s*",
                             re.IGNORECASE)
PROPER = r"[A-Z\u00C0-\u024F\uAC00-\uD7A3][\w\u00C0-\u024F\uAC00-\uD7A3.'-]*"

# Every pattern below is matched against one whole clause, from its start, after lead-ins are removed.
_WORD = r"[a-z][a-z'-]*"


@dataclass(frozen=True)
class Fact:
    """A statement to remember, in the user's words; `subject` is what a later change of it replaces."""

    text: str
    subject: str
    value: str = ""


def extract_facts(message: str) -> list[Fact]:
    """The facts about the user in a message, in order, without duplicates."""
    facts: list[Fact] = []
    for sentence in split_sentences(message):
        if not _is_statement(sentence):
            continue
        for clause in CLAUSE_BREAK.split(sentence):
            fact = fact_in(clause)
            if fact and fact not in facts:
                facts.append(fact)
    return facts


# "I live in Busan and I work as a nurse": each clause that starts with I or my is its own statement.
CLAUSE_BREAK = re.compile(r",?\s+(?:and|but|so|also|plus)\s+(?=(?:i|i'm|my)\s)", re.IGNORECASE)


def _is_statement(sentence: str) -> bool:
    """Not a question, hypothetical, wish, guess or quotation (checked on the whole sentence)."""
    s = LEAD_IN.sub("", sentence.strip()).strip()
    low = s.lower()
    return bool(s) and "?" not in s and not QUESTION_START.match(low) and not HYPOTHETICAL.search(low) \
        and not _quoted(s)


def split_sentences(text: str) -> list[str]:
    """Sentences with their end mark kept (a '?' matters); 'May 3.' and '3.5' stay whole."""
    text = (text or "").replace("\u2019", "'").replace("\u2018", "'")
    parts = re.split(r"(?<=[.!?;])\s+|\n+", text)
    return [p.strip() for p in parts if p and p.strip()]


def fact_in(sentence: str) -> Fact | None:
    """The fact one sentence states about the user, or None."""
    if not _is_statement(sentence):
        return None
    s = LEAD_IN.sub("", sentence.strip()).strip().rstrip(".!;").strip()
    low = s.lower()
    for parse in (_call_me, _my_x_is, _i_live, _i_am_from, _born, _allergic, _prefer, _like, _i_am, _i_work,
                  _i_have_pet_named, _i_speak):
        fact = parse(s, low)
        if fact:
            return fact
    return None


def _quoted(s: str) -> bool:
    """Text inside quotes is someone's words (a script, a line to translate), not the user's fact."""
    return bool(re.search(r"[\"\u201c\u201d]", s))


def _value(raw: str) -> str:
    value = FILLER_IN_VALUE.sub("", raw)
    value = re.sub(r"[,\s]+(please|thanks|thank you|ok|okay)$", "", value.strip(" ,.!-"), flags=re.IGNORECASE)
    return " ".join(value.strip(" ,.-").split())


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text[:1].upper() + text[1:]


def _phrases(words: list[str]) -> set[str]:
    """Every run of consecutive words, possessive 's removed: ["sister's", "birthday"] -> sister, birthday, ..."""
    bare = [w[:-2] if w.endswith("'s") else w for w in words]
    return {" ".join(bare[i:j]) for i in range(len(bare)) for j in range(i + 1, len(bare) + 1)}


def _subject_ok(words: list[str]) -> bool:
    """A subject is 1-4 words, none of them a verb or function word, and about a person, pet or attribute."""
    if not 1 <= len(words) <= 4 or any(w in NOT_IN_SUBJECT for w in words):
        return False
    return bool(_phrases(words) & (RELATIONS | ATTRIBUTES)) or any(re.match(r"favou?rite", w) for w in words)


def _subject_key(words: list[str]) -> str:
    """'dog's name' for both 'my dog's name' and 'my dog is called'; modifiers like 'current' dropped."""
    kept = [w for w in words if w not in ("current", "new", "actual", "real")]
    return " ".join(kept)


def _call_me(s: str, low: str) -> Fact | None:
    m = re.match(r"^(?:you can |please |just )?(?:call me|i go by|i'm called|i am called|people call me)\s+"
                 rf"({PROPER}(?:\s+{PROPER})?)$", s, re.IGNORECASE)
    if m:
        return Fact(f"Call me {_value(m.group(1))}", "preferred name", _value(m.group(1)))
    return None


def _my_x_is(s: str, low: str) -> Fact | None:
    m = re.match(rf"^my\s+((?:{_WORD}\s+){{0,3}}?{_WORD})\s+(is|are)\s+(called|named)\s+(.+)$", s, re.IGNORECASE)
    if m:
        words = m.group(1).lower().split()
        value = _value(m.group(4))
        if not _subject_ok(words) or not value:
            return None
        return Fact(f"My {m.group(1)} {m.group(2).lower()} called {value}", _subject_key(words) + "'s name", value)
    m = re.match(rf"^my\s+((?:{_WORD}\s+){{0,3}}?{_WORD})\s+(is|are)\s+(?!not\b|n't\b)(.+)$", s, re.IGNORECASE)
    if not m:
        return None
    words = m.group(1).lower().split()
    value = _value(m.group(3))
    if not _subject_ok(words) or not value or len(value) > 200:
        return None
    # "my sister is Jane" and "my sister is a doctor" are both true: a bare person or pet is no key to
    # replace by. An attribute is: "my sister's birthday is June 3" replaces "... is May 3".
    subject = _subject_key(words) if _has_attribute(words) else ""
    return Fact(f"My {m.group(1)} {m.group(2).lower()} {value}", subject, value)


def _has_attribute(words: list[str]) -> bool:
    return bool(_phrases(words) & ATTRIBUTES) or any(re.match(r"favou?rite", w) for w in words)


def _i_live(s: str, low: str) -> Fact | None:
    m = re.match(r"^(?:i live|i'm living|i am living|i now live|i moved|i've moved|i have moved|i just moved)"
                 r"\s+(in|to|near|at)\s+(.+)$", s, re.IGNORECASE)
    if m:
        place = _value(m.group(2))
        where = "in" if m.group(1).lower() == "to" else m.group(1).lower()
        return Fact(f"I live {where} {place}", "home", place) if place else None
    return None


def _i_am_from(s: str, low: str) -> Fact | None:
    m = re.match(r"^(?:i'm|i am|i come) from\s+(.+)$", s, re.IGNORECASE)
    if m and (place := _value(m.group(1))):
        return Fact(f"I am from {place}", "hometown", place)
    return None


def _born(s: str, low: str) -> Fact | None:
    m = re.match(r"^i was born\s+(on|in|at)\s+(.+)$", s, re.IGNORECASE)
    if not m:
        return None
    value = _value(m.group(2))
    when = m.group(1).lower() == "on" or re.fullmatch(r"\d{4}", value)
    subject = "birthday" if when else "birthplace"
    return Fact(f"I was born {m.group(1).lower()} {value}", subject, value) if value else None


def _allergic(s: str, low: str) -> Fact | None:
    m = re.match(r"^(?:i'm|i am)\s+(?:very |severely |a bit |mildly )?allergic to\s+(.+)$", s, re.IGNORECASE)
    if m and (what := _value(m.group(1))):
        return Fact(f"I am allergic to {what}", f"allergy: {what.lower()}", what)
    m = re.match(r"^i have (?:an?\s+)?(.+?)\s+allergy$", s, re.IGNORECASE)
    if m and (what := _value(m.group(1))):
        return Fact(f"I am allergic to {what}", f"allergy: {what.lower()}", what)
    return None


def _prefer(s: str, low: str) -> Fact | None:
    m = re.match(r"^i(?: much| really| generally| usually)? prefer\s+(.+)$", s, re.IGNORECASE)
    if not m or not (what := _value(m.group(1))):
        return None
    # "I prefer short answers" and later "I prefer long answers" are about the same thing: answers.
    head = re.split(r"\s+(?:over|to|than|rather|instead|when|because|if|for|in|with|and|but)\b|,", what)[0]
    noun = head.split()[-1].lower() if head.split() else what.lower()
    return Fact(f"I prefer {what}", f"preference: {noun}", what)


def _like(s: str, low: str) -> Fact | None:
    m = re.match(r"^i(?: really| absolutely| just)?\s+(love|like|enjoy|hate|dislike|can't stand|don't like|"
                 r"do not like|don't eat|do not eat|never eat|don't drink|do not drink)\s+(.+)$", s, re.IGNORECASE)
    if not m or not (what := _value(m.group(2))) or len(what.split()) > 8:
        return None
    if re.match(r"^(it|that|this|them|you|your|the way|how|when|to know|to ask)\b", what, re.IGNORECASE):
        return None  # about the conversation, not a lasting taste
    verb = m.group(1).lower().replace("do not", "don't")
    # Liking and disliking the same thing share a subject, so a change of taste replaces the old one.
    return Fact(f"I {verb} {what}", f"taste: {what.lower()}", verb)


def _i_am(s: str, low: str) -> Fact | None:
    m = re.match(r"^(?:i'm|i am)\s+(\d{1,3})(?: years old| years| yo)?$", s, re.IGNORECASE)
    if m:
        return Fact(f"I am {m.group(1)} years old", "age", m.group(1))
    m = re.match(r"^(?:i'm|i am)\s+(vegetarian|vegan|pescatarian|left-handed|right-handed|lactose intolerant|"
                 r"gluten intolerant|diabetic|colorblind|colourblind|deaf|blind|married|single|divorced|engaged|"
                 r"retired|pregnant|sober|muslim|christian|jewish|buddhist|hindu|atheist)$", s, re.IGNORECASE)
    if m:
        word = m.group(1).lower()
        group = {"married": "relationship", "single": "relationship", "divorced": "relationship",
                 "engaged": "relationship", "vegetarian": "diet", "vegan": "diet", "pescatarian": "diet"}
        return Fact(f"I am {word}", group.get(word, word), word)
    m = re.match(r"^(?:i'm|i am)\s+an?\s+(.+)$", s, re.IGNORECASE)
    if m:
        what = _value(m.group(1))
        if not what or len(what.split()) > 6 or re.match(
                r"^(bit|little|lot|fan of (it|this|that)|beginner at this|newbie here|big fan of you|robot|ai)\b",
                what, re.IGNORECASE):
            return None
        return Fact(f"I am a{'n' if what[0].lower() in 'aeiou' else ''} {what}", "", what)
    m = re.match(r"^(?:i'm|i am)\s+(?:a\s+)?(?:native|fluent)\s+(\w+)\s+speaker$", s, re.IGNORECASE)
    if m:
        return Fact(f"I am a native {m.group(1)} speaker", "native language", m.group(1))
    return None


def _i_work(s: str, low: str) -> Fact | None:
    m = re.match(r"^i(?: currently| now)? work\s+(as|at|for|in)\s+(.+)$", s, re.IGNORECASE)
    if m and (what := _value(m.group(2))):
        return Fact(f"I work {m.group(1).lower()} {what}", "work", what)
    m = re.match(r"^i(?: currently| now)? (study|teach)\s+(.+)$", s, re.IGNORECASE)
    if m and (what := _value(m.group(2))) and len(what.split()) <= 6:
        return Fact(f"I {m.group(1).lower()} {what}", m.group(1).lower(), what)
    return None


def _i_have_pet_named(s: str, low: str) -> Fact | None:
    m = re.match(rf"^i have an?\s+((?:{_WORD}\s+)?{_WORD})\s+(?:called|named)\s+({PROPER})$", s, re.IGNORECASE)
    if m:
        words = m.group(1).lower().split()
        if _subject_ok(words):
            return Fact(f"My {words[-1]} is called {m.group(2)}", f"{words[-1]}'s name", m.group(2))
    m = re.match(r"^i have\s+(an?|one|two|three|four|five|no|\d+)\s+(sisters?|brothers?|kids|children|sons?|"
                 r"daughters?|dogs?|cats?|pets?|siblings?)$", s, re.IGNORECASE)
    if m:
        noun = m.group(2).lower()
        base = noun.rstrip("s") if noun not in ("kids", "children") else "child"
        return Fact(f"I have {m.group(1).lower()} {noun}", f"number of {base}", m.group(1).lower())
    return None


def _i_speak(s: str, low: str) -> Fact | None:
    m = re.match(r"^i speak\s+(.+)$", s, re.IGNORECASE)
    if m and (what := _value(m.group(1))) and len(what.split()) <= 8:
        return Fact(f"I speak {what}", "languages", what)
    return None


_THIRD_PERSON = [
    (r"^(?:the user's|user's|your)\s+", "my "),
    (r"^(?:the user|user|you) (?:is|are)\s+", "I am "),
    (r"^(?:the user|user|you) (?:was|were)\s+", "I was "),
    (r"^(?:the user|user|you) (?:has|have)\s+", "I have "),
    (r"^(?:the user|user) (lives|prefers|likes|loves|enjoys|hates|dislikes|works|studies|teaches|speaks|moved)\b",
     None),
    (r"^(?:the user|user) (?:doesn't|does not)\s+", "I don't "),
]
_VERB_BASE = {"lives": "live", "prefers": "prefer", "likes": "like", "loves": "love", "enjoys": "enjoy",
              "hates": "hate", "dislikes": "dislike", "works": "work", "studies": "study", "teaches": "teach",
              "speaks": "speak", "moved": "moved"}


def first_person(text: str) -> str:
    """'The user's sister's birthday is May 3' -> 'my sister's birthday is May 3', so a fact the model
    words about the user gets the same subject as the user's own words (and replaces or matches it)."""
    s = " ".join((text or "").split())
    for pattern, replacement in _THIRD_PERSON:
        m = re.match(pattern, s, re.IGNORECASE)
        if m:
            if replacement is None:
                return f"I {_VERB_BASE[m.group(1).lower()]}{s[m.end():]}"
            return replacement + s[m.end():]
    return s
