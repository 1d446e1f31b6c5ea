#!/usr/bin/env python3
"""Writes the WordNet block of moderation/rules.txt: English verbs of doing violence to a body and
English nouns of persons, from Princeton WordNet 3.0 as Debian's `wordnet-base` installs it
(/usr/share/wordnet). Run after changing the lists below; the build does not need WordNet.

    /usr/bin/python3 tools/wordnet_violence.py            # rewrites the block in place
    /usr/bin/python3 tools/wordnet_violence.py --check    # exit 1 if the block is not current

Why: violence told by the act ("a cult leader crucifying a young woman", "garroting a guard") was
a list of acts, one near rule per act found missing by an evaluation set. WordNet files every verb
of killing, injuring, beating and mutilating under a few synsets, and every noun for a person
under one; the block turns those into groups, so a near rule reads "a verb of violence, then a
person within three words" for every such verb WordNet knows.

Which verbs: the hyponym closure of ROOTS, keeping a lemma only when that violent sense is among
its two most frequent senses (WordNet orders senses by frequency) - "draw" (draw and quarter)
and "remove" (kill) are not verbs of violence to a reader - plus EXTRA (violent verbs WordNet
files elsewhere: "bludgeon" under hitting, "flay" under removing), minus EXCLUDE (each with its
reason: a noun of the same spelling, a participle that describes a state, a sport, an idiom).
Which persons: every single-word noun whose most frequent sense is a person (person.n.01 and its
hyponyms; not its instances, the names of people), as written and in the plural - never by stem
("illustration" is no "illustrator") - where the English dictionary holds the form, plus pronouns
and a few nouns for victims WordNet files elsewhere.
"""
import os
import re
import sys

WORDNET = os.environ.get("WORDNET_DIR", "/usr/share/wordnet")
RULES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "moderation", "rules.txt")
DICT = "/usr/share/dict/words"
BEGIN = "# BEGIN wordnet block (tools/wordnet_violence.py writes it; do not edit by hand)"
END = "# END wordnet block"

# (lemma, sense number in index.verb) of the violent synsets whose hyponyms are read
ROOTS = [("kill", 1), ("injure", 1), ("torture", 2), ("beat", 2), ("mutilate", 1),
         ("strangle", 1), ("stab", 1), ("maim", 1), ("batter", 2), ("flog", 1)]

EXTRA = """bludgeon cudgel pummel castrate disembowel eviscerate flay lynch waterboard electrocute
crucify trample garrote impale mangle maul suffocate asphyxiate behead decapitate dismember
bayonet stab strangle immolate lacerate pistol-whip keelhaul cane throttle smother poison
butcher kneecap""".split()

# verbs that are names or nouns WordNet's noun index does not list as such
NOUN_TOO = {"lynch"}

# lemma: why it is no verb of violence for this rule
EXCLUDE = {
    # nouns a prompt uses for things, or verbs a prompt uses for ordinary work
    "birch": "a tree", "cat": "a cat", "grass": "grass", "halter": "a halter top",
    "lather": "soap", "leather": "leather", "welt": "a shoe welt", "pip": "a seed", "off": "a preposition",
    "flight": "a flight", "erase": "erasing a board", "cowhide": "a hide", "knife": "a kitchen knife",
    "club": "a club", "skin": "skin care", "wound": "wound care",
    "stone": "a stone statue", "batter": "cake batter, a baseball batter", "charge": "charging a phone",
    "whip": "whipped cream", "lash": "eyelashes", "slash": "a slash", "bash": "a party",
    "torch": "a torch", "brand": "a brand", "gag": "a joke", "rack": "a rack", "poniard": "a dagger (noun)",
    "harm": "harm reduction", "execute": "executing a plan, an executive", "eliminate": "eliminating waste",
    "remove": "removing", "draw": "drawing", "burn": "burning wood", "hit": "a hit song", "shoot": "a photo shoot",
    "hang": "hanging a picture", "beat": "beating a rival at chess", "crush": "a crush",
    "destroy": "destroying a building", "dispatch": "dispatching a parcel", "fry": "frying",
    "zap": "comic", "overlay": "an overlay", "overlie": "rare", "quarter": "a quarter", "stake": "a stake",
    "calk": "rare", "hock": "a pawn", "invalid": "an invalid", "rick": "a haystack", "baste": "cooking",
    "lam": "on the lam", "brain": "a brain", "jam": "jam", "bear_down": "idiom", "jump": "jumping",
    "rush": "rushing", "bait": "bait", "run_down": "run-down", "carry_off": "idiom",
    "polish_off": "eating", "wipe_out": "surfing", "put_to_sleep": "anaesthesia, a pet",
    "sacrifice": "a chess sacrifice", "saber": "a saber", "sabre": "a sabre", "tomahawk": "a tomahawk",
    "strap": "a strap", "scourge": "figurative", "excruciate": "rare",
    "knock_off": "a knock-off", "do_in": "idiom", "kill_off": "a series killing off a character",
    "put_away": "tidying", "bump_off": "rare", "pick_off": "baseball",
    "mow_down": "mowing", "work_over": "idiom", "off": "preposition",
    # participles that describe a state, as adjectives before a person
    "injure": "an injured man being helped", "handicap": "a handicapped person", "lame": "slang",
    "disable": "a disabled person", "cripple": "a crippled person", "incapacitate": "a state",
    "bruise": "a bruised knee", "torture": "a tortured artist", "torment": "a tormented soul",
    "martyr": "a martyr", "martyrise": "saints", "martyrize": "saints", "traumatise": "a traumatized child",
    "traumatize": "a traumatized child", "concuss": "a concussed player", "mar": "marred",
    "sprain": "a sprained ankle", "subluxate": "medical", "overstretch": "sports", "wrick": "rare",
    "graze": "grazing cattle", "frustrate": "frustrated", "madden": "maddened", "outrage": "outraged",
    "oppress": "oppressed people (hate is its own category)", "persecute": "as oppress",
    "dishonor": "dishonour", "dishonour": "figurative", "profane": "profane", "desecrate": "objects",
    "beset": "figurative", "blindside": "sports", "rag": "a rag", "bedevil": "figurative",
    "badger": "a badger", "bug": "a bug", "bulldog": "a bulldog", "dun": "a colour",
    "pester": "annoying", "tease": "teasing", "beleaguer": "figurative", "sic": "a dog command",
    "assail": "figurative", "assault": "an assault rifle", "set_on": "idiom", "set_upon": "idiom",
    "reassail": "rare", "savage": "an adjective", "buffet": "a buffet", "knock_about": "idiom",
    "purge": "a purge", "neutralise": "chemistry", "liquidate": "finance", "eradicate": "diseases",
    "decimate": "figurative", "annihilate": "figurative", "vaporize": "science fiction",
    "erase": "as above", "spank": "parenting and adult play (other categories)", "flail": "flailing arms",
    "thrash": "thrash metal, a game", "trounce": "sports", "clobber": "sports", "larrup": "rare",
    "lambast": "criticism", "lambaste": "criticism", "belabour": "figurative", "belabor": "figurative",
    "kayo": "boxing", "knock_cold": "boxing", "knock_out": "boxing", "rough_up": "kept as beat_up",
    "paddle": "a paddle", "switch": "a switch", "soak": "soaking", "thresh": "farming",
    "scrag": "rare", "chine": "cooking", "burke": "rare", "gibbet": "a gibbet", "lapidate": "rare",
    "commit_suicide": "self-harm is its own category", "molest": "sexual categories",
    "rape": "sexual categories", "ravish": "sexual categories", "gang-rape": "sexual categories",
    "hamstring": "a muscle", "slit": "a dress with a slit", 
    "gore": "gore (noun)", "scalp": "scalp massage",
"cut_up": "cutting up food for the kids",
    "run_over": "running over to someone", "contuse": "rare",
    "kill": "killing time with friends (the rules hold killing)",
    "drown": "a lifeguard saving a drowning man (the rules hold drowning someone)",
    "gouge": "price gouging customers (the rules hold gouged eyes)",
    "gun_down": "put the gun down", "string_up": "stringing up lights with the kids",
    "beat_up": "beat-up sneakers (the rules hold beating)",
    "exterminate": "exterminating a group is hate, which its own rules name",
}

# verbs whose past participle after a person is too often no violence ("a soldier killed in
# action, memorial", "a veteran with a maimed leg"): the near rule after a person leaves them out
NOT_AFTER_PERSON = {"drown", "slaughter", "massacre", "murder", "maim", "lacerate", "mangle", "trample"}

# pronouns, and nouns for victims that WordNet files first as something else or not at all
EXTRA_PERSONS = """him her them someone somebody people men women persons children kids victims
prisoners captives hostages civilians villagers protesters neighbours neighbors cellmate inmate
inmates snitch pedestrian pedestrians""".split()

# persons WordNet lists first as persons that are no persons to a prompt: animals, food, tools,
# machines and abstractions that share a person's name ("sage", "quiche", "stroller")
PERSON_EXCLUDE = set("""tiger bull hulk tease drunk switch-hitter star lamb angel doll sweetheart
honey chicken pig dog rat snake cow goat ass fox bear wolf shark mole worm crab duck turkey
beast animal brute monster giant dummy dope nut fruit stiff cold dragon ogre troll goblin don
orc demon devil fiend vampire werewolf ghoul sage taco quiche brownie bourbon macaroni toaster
calculator smoothie scanner printer router adapter blimp canary ostrich piranha scorpion wolverine
weasel skunk gopher adder badger bunny whale shrimp ewe hog cub gull dodo wasp loon cuckoo snapper
warbler hammerhead dalmatian tackle torpedo mannequin manikin mannikin decoy pitcher plunger trailer
conveyor conveyer synthesizer transmitter excavator sprayer roaster slider tuner wiper washer edger
cutter slicer sorter fastener pacifier stroller comforter scrubber sweeper spinner tumbler shaker
tester checker juicer booster breaker decoder monitor quarry pueblo antique straight regular
natural cardinal major same white welsh roman modern pop rip hood hack grind pivot crank screw
riser mover heavy extra proxy quad lama sphinx titan amazon avatar clone vixen shrew harpy coaster
tracer loaner putter romper choker knocker clapper counsel forward maroon trawler striker
backstop knockout superman energizer selector qualifier placeholder accumulator distributor
reincarnation embodiment incarnation personification apotheosis abomination antecedent
powerhouse bombshell mainstay spearhead bellwether figurehead""".split())


def read_data(pos):
    syn = {}
    with open(os.path.join(WORDNET, "data." + pos), encoding="latin-1") as f:
        for line in f:
            if line.startswith("  "):
                continue
            p = line.split(" | ")[0].split()
            wc = int(p[3], 16)
            words = [p[4 + 2 * i] for i in range(wc)]
            i = 4 + 2 * wc
            ptrs = []
            for _ in range(int(p[i])):
                ptrs.append((p[i + 1], p[i + 2], p[i + 3]))
                i += 4
            syn[p[0]] = (words, ptrs)
    return syn


def read_index(pos):
    idx = {}
    with open(os.path.join(WORDNET, "index." + pos), encoding="latin-1") as f:
        for line in f:
            if line.startswith("  "):
                continue
            p = line.split()
            idx[p[0]] = p[-int(p[2]):]
    return idx


def hyponyms(syn, off, pos, seen):
    """Adds off and its hyponyms (not its instances: "Lincoln" is no noun for a person) to seen."""
    stack = [off]
    while stack:
        o = stack.pop()
        if o in seen:
            continue
        seen.add(o)
        stack.extend(t for kind, t, tpos in syn[o][1] if kind == "~" and tpos == pos)


def plain(lemma):
    return re.fullmatch(r"[a-z]+(-[a-z]+)?", lemma) is not None


def verbs():
    syn, idx = read_data("verb"), read_index("verb")
    violent = set()
    for lemma, sense in ROOTS:
        hyponyms(syn, idx[lemma][sense - 1], "v", violent)
    out = set()
    for o in violent:
        for w in syn[o][0]:
            w = w.lower()
            if w in idx and any(s in violent for s in idx[w][:2]):
                out.add(w)
    out = (out | set(EXTRA)) - set(EXCLUDE)
    return sorted(w.replace("_", " ") for w in out)


def exceptions(pos):
    """base form -> its irregular forms, from WordNet's exception list of pos: "man" -> {"men"},
    "slay" -> {"slain", "slew", ...}."""
    out = {}
    with open(os.path.join(WORDNET, pos + ".exc"), encoding="latin-1") as f:
        for line in f:
            form, base = line.split()[:2]
            out.setdefault(base, set()).add(form)
    return out


def plural(noun):
    if re.search(r"(s|x|z|ch|sh)$", noun):
        return noun + "es"
    if re.search(r"[^aeiou]y$", noun):
        return noun[:-1] + "ies"
    return noun + "s"


def persons(idx, words):
    """The person nouns (idx: the noun index; words: the dictionary) as written and in the
    plural: never by stem, which would read "illustration" as "illustrator" and "office" as
    "officer"."""
    syn = read_data("noun")
    people = set()
    hyponyms(syn, idx["person"][0], "n", people)
    nouns = {w for w, senses in idx.items() if plain(w) and len(w) >= 3 and senses[0] in people}
    irregular = exceptions("noun")
    out = set()
    for w in nouns - PERSON_EXCLUDE:
        out |= {w, plural(w)} | irregular.get(w, set())
    # only the forms an English dictionary holds (Debian's wamerican): WordNet's rarest persons
    # ("asanga", "eadwig") cost loading time and catch nothing
    return sorted("=" + w for w in (out & words) | set(EXTRA_PERSONS))


def dictionary():
    with open(DICT, encoding="utf-8", errors="replace") as f:
        return {w.strip() for w in f if w.strip().islower()}


def inflect(verb, suffix, words):
    """verb + "ing" or "ed" as English writes it: the first of the spellings the dictionary
    holds (a final e dropped, a consonant doubled, y as i), else the plain one."""
    tries = []
    if verb.endswith("e") and not verb.endswith("ee"):
        tries.append(verb[:-1] + suffix)
    if suffix == "ed" and re.search(r"[^aeiou]y$", verb):
        tries.append(verb[:-1] + "ied")
    tries += [verb + suffix, verb + verb[-1] + suffix]
    return next((t for t in tries if t in words), tries[0])


def block():
    words, irregular = dictionary(), exceptions("verb")
    nouns = read_index("noun")
    act, done = [], []
    for v in verbs():
        if " " in v:  # "beat up", "gun down": every word by its stem
            act.append(v)
            continue
        head, _, last = v.rpartition("-")  # "pistol-whip": the last part inflects
        ing = head + "-" * bool(head) + inflect(last, "ing", words)
        ed = head + "-" * bool(head) + inflect(last, "ed", words)
        extra = irregular.get(v, set())  # "slain"; also doubled forms ("flogging")
        past = sorted({f for f in extra if not f.endswith("ing") and f != "slew"} | {ed})  # "a slew of"
        ing = sorted({f for f in extra if f.endswith("ing")} | {ing})
        # every verb as written in its forms, never by stem ("assassin" is the stem of
        # "assassinate"); a verb that is also a noun ("bayonet", "guillotine", Lynch the
        # director) in its -ing and -ed forms only, a rifle with a bayonet being no violence
        forms = ing + past
        if v.replace("-", "_") not in nouns and v not in NOUN_TOO:
            forms = [v, head + "-" * bool(head) + plural(last)] + forms
        act += ["=" + f for f in forms]
        if v not in NOT_AFTER_PERSON:
            done += ["=" + f for f in past]
    lines = [BEGIN,
             "# Princeton WordNet 3.0 (Debian wordnet-base): the verbs of doing violence to a body",
             "# (wn_violent_act; wn_violent_done: their past participles) and the nouns of persons",
             "# (wn_person), for the near rules after the block. The groups are lexicons: their words are",
             "# matched only where a rule names the group (no parts of glued words or misspellings).",
             "lang en"]
    lines += ["group wn_violent_act " + w for w in dict.fromkeys(act)]
    lines += ["group wn_violent_done " + w for w in sorted(set(done))]
    lines += ["group wn_person " + w for w in persons(nouns, words)]
    lines += ["lexicon wn_violent_act", "lexicon wn_violent_done", "lexicon wn_person", END]
    return "\n".join(lines) + "\n"


def main():
    text = open(RULES, encoding="utf-8").read()
    if BEGIN not in text or END not in text:
        sys.exit("rules.txt has no wordnet block markers")
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END + "\n", 1)[1]
    new = head + block() + tail
    if "--check" in sys.argv:
        sys.exit(0 if new == text else 1)
    with open(RULES, "w", encoding="utf-8") as f:
        f.write(new)


if __name__ == "__main__":
    main()
