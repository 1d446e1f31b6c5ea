#!/usr/bin/env python3
"""Generates the labelled prompts the moderation classifier is trained on (issue 31).

Nothing here is read from moderation/eval/: the vocabulary and templates below were written for
training only, and tests/moderation/run.py checks that no evaluation prompt appears in what this
script generates. Output: TSV lines `label<TAB>lang<TAB>minor<TAB>prompt` (minor: 1 when a child
is depicted, harmful or not), label one of ok, sexual_minors,
sexual, violence, self_harm, hate, illegal.

Each harmful template has harmless twins built from the same words (a child at play, a nude
colour palette, a historical battle painting), so the model learns the combination, not the
word. Prompts are then varied the way users and evaders vary them: misspellings, leetspeak,
spacing, look-alike letters, case, punctuation, extra style words.

Usage: moderation_data.py [--per-class N] [--seed S] > data.tsv"""
import argparse
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from moderation_benign import PLAIN_FRAMES, benign, plain  # noqa: E402
import moderation_scenes  # noqa: E402

# ---------------------------------------------------------------------------------------------
# Vocabulary per language. Slots: minor (a child or teen), adult (an adult person), sexy (a
# sexual attribute or state), sexact (a sexual act or scene), place, style, gore (graphic
# violence), victim, selfharm, target (a group of people), dehum (a dehumanising claim or call),
# illegal (weapons and drugs), benign activity for minors, benign subjects and twins.
# ---------------------------------------------------------------------------------------------
V = {
    "en": {
        "minor": ["child", "kid", "little girl", "little boy", "young girl", "young boy", "toddler", "preteen",
                  "schoolgirl", "schoolboy", "minor", "underage girl", "underage boy", "baby", "infant",
                  "teenage girl", "teen boy", "girl of 11", "boy aged 9", "7 year old", "13yo", "12 year old girl",
                  "ten-year-old", "kindergartener", "pupil", "tween", "children", "kids", "young teen",
                  "girl in primary school", "middle schooler", "daughter aged 8", "little ones", "high school girl",
                  "high school freshman", "girl scout", "boy scout", "boys at summer camp", "schoolboys", "teen boys",
                  "little boys", "little girls", "sixth grader", "first grader", "junior high student",
                  "stepdaughter aged 9", "nephew aged 7", "a niece, 10"],
        "adult": ["woman", "man", "adult woman", "adult man", "couple", "lady", "model", "blonde woman",
                  "muscular man", "wife", "girlfriend", "actress", "older woman", "two adults", "anime girl",
                  "college girl", "girl in her twenties", "cowboy", "milf", "busty woman", "guy", "boyfriend",
                  "housewife", "nurse", "secretary", "cosplay girl"],
        "sexy": ["naked", "nude", "undressed", "topless", "unclothed", "in lingerie", "without clothes",
                 "wearing nothing", "stripped", "bare-chested and aroused", "sexualised", "sexualized",
                 "in a sexy pose", "seductively posed", "erotic", "provocative", "lewd", "in a bikini, sexual",
                 "with legs spread", "in a suggestive pose", "aroused", "half naked", "in see-through underwear",
                 "exposing herself", "exposed", "in a sexual way"],
        "sexact": ["having sex", "a sex scene", "porn", "pornographic photo", "explicit intercourse",
                   "oral sex", "masturbating", "a nude photoshoot", "an erotic scene", "sexual acts",
                   "being groped", "being fondled", "being molested", "sexual abuse", "a lap dance",
                   "a strip tease", "xxx content", "nsfw pictures", "explicit nudity", "an orgy",
                   "sexual touching", "a sexual encounter", "a hentai scene"],
        "place": ["in a bedroom", "on a bed", "in the shower", "at the beach", "in a motel room", "in a bathtub",
                  "on a couch", "in a locker room", "in a hotel", "in the woods", "at home", "in a studio"],
        "style": ["photorealistic", "4k", "high detail", "digital art", "anime style", "oil painting",
                  "cinematic lighting", "hyperrealistic", "8k photo", "close-up", "polaroid", "drawing",
                  "3d render", "trending on artstation", "realistic photo", "manga", "watercolor", ""],
        "gore": ["decapitated", "with a severed head", "disemboweled", "dismembered", "mutilated",
                 "with intestines spilling out", "with a crushed skull", "bleeding out", "burned alive",
                 "skinned alive", "with gouged out eyes", "stabbed repeatedly", "torn apart",
                 "with a slit throat", "riddled with bullets", "beaten to a bloody pulp", "impaled on a spike",
                 "hacked to pieces", "with brains splattered", "lying in a pool of blood", "tortured to death"],
        "victim": ["man", "woman", "prisoner", "hostage", "soldier", "body", "corpse", "victim", "civilian",
                   "person", "family", "worker"],
        "selfharm": ["cutting her arms with a razor", "slitting his wrists", "hanging himself", "hanging herself",
                     "overdosing on pills", "about to jump from a roof to die", "committing suicide",
                     "taking her own life", "shooting himself", "with self-inflicted cuts",
                     "writing a goodbye note before killing herself", "starving herself to look thin",
                     "burning her skin on purpose", "with a noose around his neck", "drowning herself",
                     "planning to end his life", "swallowing a bottle of pills to die",
                     "bleeding from self harm wounds", "ways to kill myself", "how to commit suicide painlessly",
                     "pro-ana tips to starve", "the best method to end my life"],
        "nsfw": ["xxx adult video", "nsfw content", "hardcore porn still", "an adult film scene", "explicit sex tape",
                 "bdsm session with two adults", "fetish photoshoot, explicit", "onlyfans nude selfie", "camgirl stripping",
                 "porn star posing nude", "erotic adult magazine centerfold", "a nude adult model, explicit",
                 "lewd adult content", "explicit nude beach photo of adults", "adult swingers party, explicit"],
        "age_adult": ["25 year old", "30-year-old", "mature", "adult", "middle-aged", "in her thirties", "aged 40"],
        "hate_symbol": ["white power rally with torches", "a swastika flag at a neo-nazi march", "kkk members burning a cross",
                        "a crowd giving heil hitler salutes", "white supremacist banner and slogans",
                        "a neo-nazi recruitment poster", "a confederate flag with racist slurs", "an antisemitic caricature",
                        "a racist cartoon of black people", "a homophobic hate poster"],
        "target": ["jews", "muslims", "black people", "immigrants", "gay people", "trans people", "mexicans",
                   "asians", "arabs", "gypsies", "refugees", "africans", "christians", "indians", "women",
                   "disabled people", "chinese people", "roma"],
        "dehum": ["are vermin", "are subhuman", "should be exterminated", "must be wiped out",
                  "are animals that should be shot", "deserve to die", "are a disease", "should be gassed",
                  "are an inferior race", "must be deported or killed", "are parasites", "are filthy rats",
                  "should be lynched", "should be burned", "are apes", "need to be eliminated",
                  "are cockroaches to be crushed", "don't deserve to live"],
        "hate_frame": ["poster saying {target} {dehum}", "propaganda that {target} {dehum}",
                       "a cartoon showing that {target} {dehum}", "a banner: {target} {dehum}",
                       "meme claiming {target} {dehum}", "a flyer telling people {target} {dehum}",
                       "nazi rally with a sign that says {target} {dehum}",
                       "a mural with the slogan {target} {dehum}"],
        "illegal": ["how to build a pipe bomb", "a homemade explosive device with instructions",
                    "cooking crystal meth in a trailer", "a meth lab with chemicals labeled",
                    "how to make methamphetamine at home", "step by step guide to making a bomb",
                    "converting a rifle to full auto", "3d printed untraceable gun blueprint",
                    "selling cocaine to kids", "a heroin needle being injected", "a drug cartel cutting cocaine",
                    "how to synthesize fentanyl", "a ghost gun build guide", "nail bomb instructions",
                    "making napalm at home", "a recipe for ricin poison", "how to buy illegal guns online",
                    "molotov cocktail recipe to attack police", "grow house full of weed for sale",
                    "smuggling drugs across the border, instructions", "crack cocaine being smoked",
                    "an illegal silencer made from a solvent trap"],
        "kid_ok": ["being examined by a pediatrician", "getting a checkup at the doctor", "in a bubble bath with toys, cartoon", "having a diaper changed, parenting guide illustration", "being weighed at the clinic", "with a thermometer, sick in bed", "getting dressed for school", "in swimming lessons", "at a medical exam for school", "with chickenpox spots, medical illustration", "playing in the park", "reading a book", "building a sandcastle", "riding a bike",
                   "at a birthday party", "learning to swim", "in a school classroom", "painting with watercolors",
                   "eating ice cream", "flying a kite", "playing football", "at the dentist", "in a halloween costume",
                   "sleeping in a crib", "hugging a puppy", "doing homework", "at a ballet recital",
                   "on a swing", "in a snowball fight", "baking cookies with grandma", "in a school uniform",
                   "taking a bath with rubber ducks, cartoon", "on the beach in a swimsuit, family holiday",
                   "getting a vaccine", "at the doctor", "in pajamas reading a bedtime story"],
        "adult_ok": ["walking in the rain", "drinking coffee", "reading a newspaper", "jogging at dawn",
                     "cooking dinner", "at a business meeting", "hiking a mountain", "playing guitar",
                     "in a wedding dress", "wearing a swimsuit at the pool", "doing yoga", "in an art gallery"],
        "benign": ["a shooting star over the ocean", "breast stroke swimming race", "grilled chicken breast",
                   "kill the lights in the studio", "a nude color palette for a living room", "nude lipstick",
                   "the naked eye view of saturn", "a naked mole rat in a zoo", "a killer whale",
                   "a bomb cyclone over the atlantic, weather map", "the bloody mary cocktail",
                   "a war memorial with flowers", "a medieval battle painting", "a knight fighting a dragon",
                   "a vampire movie poster", "a pirate with a sword", "a detective examining evidence",
                   "a surgeon operating", "an anatomy drawing of the heart", "a statue of venus, classical",
                   "a breastfeeding mother, documentary photo", "drug store shelves", "a pharmacy counter",
                   "a chemistry class experiment", "a police officer at a crosswalk", "a boxing match",
                   "a fencing duel", "fireworks exploding", "a cocktail party", "a sexton in a church",
                   "the Essex coastline", "a cockatoo", "Scunthorpe high street", "a bull fight painting",
                   "zombie cartoon for kids", "a horror movie set, no blood", "a samurai with a katana",
                   "the execution of a dance move", "a suicide squad comic cover", "a drug sniffing dog",
                   "a historical photo of soldiers in world war one", "a hunter in the forest",
                   "a butcher shop with meat", "a heroine saving the city", "a cocaine-white snow landscape",
                   "a sexy red sports car", "an attractive couple on a date", "a romantic kiss at sunset",
                   "a man in swimming trunks at the beach", "a bodybuilder posing on stage",
                   "a lingerie store front, exterior", "a fashion model on the runway"],
    },
    "es": {
        "minor": ["niña", "niño", "niñas", "niños", "menor de edad", "niña pequeña", "niño pequeño", "bebé",
                  "colegiala", "adolescente de 13 años", "niña de 8 años", "niño de 10 años", "chiquilla", "nena",
                  "menores", "escolar", "chico de 12 años"],
        "adult": ["mujer", "hombre", "pareja", "modelo", "señora", "mujer adulta"],
        "sexy": ["desnuda", "desnudo", "sin ropa", "en lencería", "en pose sexy", "sexualizada", "erótica",
                 "provocativa", "con las piernas abiertas", "en ropa interior transparente", "desvestida",
                 "en topless", "en una pose sugerente", "excitada"],
        "sexact": ["teniendo sexo", "una escena porno", "pornografía", "sexo explícito", "abuso sexual",
                   "tocamientos sexuales", "un video erótico", "una escena sexual", "masturbándose"],
        "place": ["en la cama", "en la ducha", "en la playa", "en un motel", "en el baño", "en un dormitorio"],
        "style": ["foto realista", "4k", "estilo anime", "arte digital", "óleo", "hiperrealista", ""],
        "gore": ["decapitado", "desmembrado", "mutilado", "con la cabeza cortada", "destripado",
                 "cubierto de sangre", "quemado vivo", "con la garganta cortada", "torturado hasta la muerte",
                 "acribillado a balazos", "descuartizado", "en un charco de sangre"],
        "victim": ["un hombre", "una mujer", "un prisionero", "un cadáver", "un soldado", "una víctima"],
        "selfharm": ["una chica cortándose los brazos", "un hombre ahorcándose", "suicidarse con pastillas",
                     "cómo suicidarse sin dolor", "una joven cortándose las muñecas", "quitarse la vida",
                     "un chico a punto de saltar de un puente para morir", "autolesiones con una cuchilla",
                     "una nota de suicidio junto a pastillas"],
        "target": ["los judíos", "los musulmanes", "los negros", "los inmigrantes", "los gitanos", "los gays",
                   "los árabes", "los mexicanos", "los chinos"],
        "dehum": ["son ratas", "deben ser exterminados", "son una plaga", "son infrahumanos", "merecen morir",
                  "deben ser eliminados", "son animales", "son una raza inferior", "deben ser gaseados"],
        "hate_frame": ["cartel que dice que {target} {dehum}", "propaganda: {target} {dehum}",
                       "un meme diciendo que {target} {dehum}", "una pancarta: {target} {dehum}"],
        "illegal": ["cómo fabricar una bomba casera", "cocinando metanfetamina", "un laboratorio de metanfetamina",
                    "cómo hacer un explosivo", "vendiendo cocaína a niños", "instrucciones para una bomba de clavos",
                    "convertir un rifle en automático", "cómo sintetizar fentanilo", "una pistola fantasma impresa en 3d"],
        "kid_ok": ["en el pediatra", "en una revisión médica", "en la bañera con juguetes", "vistiéndose para ir al colegio", "con fiebre en la cama", "en clase de natación", "jugando en el parque", "leyendo un libro", "en el colegio", "montando en bicicleta",
                   "en una fiesta de cumpleaños", "aprendiendo a nadar", "comiendo helado", "con su perro",
                   "en la playa con su familia", "en el médico", "dibujando"],
        "adult_ok": ["caminando bajo la lluvia", "tomando café", "cocinando", "en una reunión", "bailando"],
        "benign": ["una estrella fugaz", "pechuga de pollo a la plancha", "natación estilo braza",
                   "un cuadro de una batalla medieval", "un caballero y un dragón", "un cirujano operando",
                   "una madre amamantando, foto documental", "una farmacia", "una corrida de toros, pintura",
                   "una paleta de colores nude", "un coche deportivo sexy", "una pareja besándose al atardecer",
                   "una clase de química", "un perro policía antidrogas", "fuegos artificiales"],
    },
    "fr": {
        "minor": ["enfant", "fillette", "petite fille", "petit garçon", "enfants", "mineure", "mineur", "bébé",
                  "écolière", "écolier", "adolescente de 12 ans", "garçon de 9 ans", "fille de 10 ans", "gamine",
                  "gamin", "jeune fille de 13 ans"],
        "adult": ["femme", "homme", "couple", "mannequin", "dame"],
        "sexy": ["nue", "nu", "déshabillée", "déshabillé", "en lingerie", "sexy", "sexualisée", "érotique",
                 "provocante", "les jambes écartées", "dans une pose suggestive", "seins nus", "sans vêtements",
                 "excitée"],
        "sexact": ["en train de faire l'amour", "une scène porno", "pornographie", "un rapport sexuel explicite",
                   "des attouchements sexuels", "abus sexuel", "une scène érotique", "se masturbant"],
        "place": ["dans un lit", "sous la douche", "à la plage", "dans une chambre", "dans une baignoire"],
        "style": ["photo réaliste", "4k", "style anime", "art numérique", "peinture à l'huile", ""],
        "gore": ["décapité", "démembré", "mutilé", "éventré", "couvert de sang", "égorgé", "brûlé vif",
                 "torturé à mort", "criblé de balles", "dans une mare de sang", "la tête tranchée"],
        "victim": ["un homme", "une femme", "un prisonnier", "un cadavre", "un soldat", "une victime"],
        "selfharm": ["une fille qui se taille les bras", "un homme qui se pend", "se suicider avec des médicaments",
                     "comment se suicider sans douleur", "une jeune femme qui s'ouvre les veines",
                     "mettre fin à ses jours", "automutilation à la lame de rasoir", "une lettre de suicide"],
        "target": ["les juifs", "les musulmans", "les noirs", "les immigrés", "les roms", "les homosexuels",
                   "les arabes", "les asiatiques"],
        "dehum": ["sont de la vermine", "doivent être exterminés", "sont des sous-hommes", "méritent de mourir",
                  "doivent être éliminés", "sont des animaux", "sont une race inférieure", "sont des rats"],
        "hate_frame": ["affiche disant que {target} {dehum}", "propagande : {target} {dehum}",
                       "un mème qui dit que {target} {dehum}", "une banderole : {target} {dehum}"],
        "illegal": ["fabriquer soi-même une bombe artisanale, tutoriel", "fabriquer de la méthamphétamine",
                    "un laboratoire de drogue clandestin", "vendre de la cocaïne aux enfants",
                    "comment faire un explosif maison", "convertir un fusil en arme automatique",
                    "synthétiser du fentanyl", "une arme fantôme imprimée en 3d"],
        "kid_ok": ["chez le pédiatre", "pendant un examen médical", "dans le bain avec des jouets", "qui s'habille pour l'école", "malade au lit", "à la piscine", "qui joue au parc", "qui lit un livre", "à l'école", "à vélo", "à un anniversaire",
                   "qui apprend à nager", "qui mange une glace", "avec son chien", "chez le médecin"],
        "adult_ok": ["sous la pluie", "qui boit un café", "qui cuisine", "en réunion", "qui danse"],
        "benign": ["une étoile filante", "un filet de poulet grillé", "la nage de brasse",
                   "un tableau d'une bataille napoléonienne", "un chevalier et un dragon", "un chirurgien",
                   "une mère qui allaite, photo documentaire", "une pharmacie", "une palette de couleurs nude",
                   "une voiture de sport sexy", "un couple qui s'embrasse", "une héroïne de bande dessinée",
                   "un cours de chimie", "un feu d'artifice"],
    },
    "de": {
        "minor": ["Kind", "Kinder", "kleines Mädchen", "kleiner Junge", "Mädchen", "Junge", "Minderjährige",
                  "Baby", "Kleinkind", "Schülerin", "Schüler", "zehnjähriges Mädchen", "Junge mit 9 Jahren",
                  "12-jährige", "Teenager mit 13"],
        "adult": ["Frau", "Mann", "Paar", "Model", "Dame"],
        "sexy": ["nackt", "nackte", "ausgezogen", "in Reizwäsche", "sexy", "sexualisiert", "erotisch",
                 "aufreizend", "mit gespreizten Beinen", "in einer anzüglichen Pose", "oben ohne", "unbekleidet",
                 "entkleidet", "erregt"],
        "sexact": ["beim Sex", "eine Pornoszene", "Pornografie", "expliziter Geschlechtsverkehr",
                   "sexueller Missbrauch", "sexuelle Berührungen", "eine Erotikszene", "beim Masturbieren"],
        "place": ["im Bett", "in der Dusche", "am Strand", "im Schlafzimmer", "in der Badewanne"],
        "style": ["fotorealistisch", "4k", "Anime-Stil", "digitale Kunst", "Ölgemälde", ""],
        "gore": ["enthauptet", "zerstückelt", "verstümmelt", "ausgeweidet", "voller Blut", "mit durchgeschnittener Kehle",
                 "lebendig verbrannt", "zu Tode gefoltert", "von Kugeln durchsiebt", "in einer Blutlache"],
        "victim": ["ein Mann", "eine Frau", "ein Gefangener", "eine Leiche", "ein Soldat", "ein Opfer"],
        "selfharm": ["ein Mädchen, das sich die Arme ritzt", "ein Mann, der sich erhängt",
                     "Selbstmord mit Tabletten", "wie man sich schmerzlos umbringt", "sich das Leben nehmen",
                     "Selbstverletzung mit einer Rasierklinge", "ein Abschiedsbrief vor dem Suizid"],
        "target": ["Juden", "Muslime", "Schwarze", "Ausländer", "Flüchtlinge", "Schwule", "Roma", "Araber"],
        "dehum": ["sind Ungeziefer", "müssen ausgerottet werden", "sind Untermenschen", "verdienen den Tod",
                  "müssen beseitigt werden", "sind Tiere", "sind eine minderwertige Rasse", "sind Ratten"],
        "hate_frame": ["Plakat: {target} {dehum}", "Propaganda, dass {target} {dehum}",
                       "ein Meme, das sagt {target} {dehum}", "ein Transparent: {target} {dehum}"],
        "illegal": ["wie man eine Rohrbombe baut", "Crystal Meth kochen", "ein Drogenlabor",
                    "Anleitung zum Bombenbau", "eine Nagelbombe bauen", "Sprengstoff selbst mischen",
                    "eine Autobombe basteln", "Bauanleitung für einen Sprengsatz", "Drogen verkaufen an Schüler",
                    "Kokain an Kinder verkaufen", "Sprengstoff selbst herstellen", "ein Gewehr zum Vollautomaten umbauen",
                    "Fentanyl synthetisieren", "eine Geisterwaffe aus dem 3D-Drucker"],
        "kid_ok": ["beim Kinderarzt", "bei einer Untersuchung", "in der Badewanne mit Spielzeug", "zieht sich für die Schule an", "krank im Bett", "beim Schwimmkurs", "spielt im Park", "liest ein Buch", "in der Schule", "auf dem Fahrrad", "auf einer Geburtstagsfeier",
                   "lernt schwimmen", "isst ein Eis", "mit seinem Hund", "beim Arzt"],
        "adult_ok": ["im Regen", "trinkt Kaffee", "kocht", "in einer Besprechung", "tanzt"],
        "benign": ["eine Sternschnuppe", "Hähnchenbrust vom Grill", "Brustschwimmen", "ein Schlachtengemälde",
                   "ein Ritter und ein Drache", "ein Chirurg bei der Arbeit", "eine stillende Mutter, Dokumentarfoto",
                   "eine Apotheke", "ein Sportwagen, sexy", "ein Paar küsst sich", "Chemieunterricht", "Feuerwerk"],
    },
    "pt": {
        "minor": ["criança", "crianças", "menina", "menino", "garota de 10 anos", "garoto de 9 anos", "bebê",
                  "menor de idade", "menina pequena", "adolescente de 13 anos", "colegial", "meninas"],
        "adult": ["mulher", "homem", "casal", "modelo"],
        "sexy": ["nua", "nu", "pelada", "pelado", "sem roupa", "de lingerie", "sexy", "sexualizada", "erótica",
                 "provocante", "de pernas abertas", "em pose sensual", "de topless", "excitada"],
        "sexact": ["fazendo sexo", "uma cena pornô", "pornografia", "sexo explícito", "abuso sexual",
                   "toques sexuais", "uma cena erótica", "se masturbando"],
        "place": ["na cama", "no chuveiro", "na praia", "no quarto", "na banheira"],
        "style": ["foto realista", "4k", "estilo anime", "arte digital", "pintura a óleo", ""],
        "gore": ["decapitado", "esquartejado", "mutilado", "coberto de sangue", "com a garganta cortada",
                 "queimado vivo", "torturado até a morte", "crivado de balas", "numa poça de sangue"],
        "victim": ["um homem", "uma mulher", "um prisioneiro", "um cadáver", "um soldado", "uma vítima"],
        "selfharm": ["uma garota se cortando", "um homem se enforcando", "suicídio com remédios",
                     "como se matar sem dor", "tirar a própria vida", "automutilação com lâmina",
                     "um bilhete de suicídio"],
        "target": ["os judeus", "os muçulmanos", "os negros", "os imigrantes", "os ciganos", "os gays", "os índios"],
        "dehum": ["são vermes", "devem ser exterminados", "são sub-humanos", "merecem morrer", "são animais",
                  "são uma raça inferior", "são ratos", "devem ser mortos"],
        "hate_frame": ["cartaz dizendo que {target} {dehum}", "propaganda: {target} {dehum}",
                       "um meme dizendo que {target} {dehum}"],
        "illegal": ["tutorial para montar uma bomba caseira", "cozinhando metanfetamina", "um laboratório de drogas",
                    "vendendo cocaína para crianças", "como fazer explosivos", "converter um fuzil em automático"],
        "kid_ok": ["no pediatra", "num exame médico", "na banheira com brinquedos", "se vestindo para a escola", "doente na cama", "na aula de natação", "brincando no parque", "lendo um livro", "na escola", "andando de bicicleta",
                   "numa festa de aniversário", "aprendendo a nadar", "tomando sorvete", "com seu cachorro"],
        "adult_ok": ["na chuva", "tomando café", "cozinhando", "numa reunião", "dançando"],
        "benign": ["uma estrela cadente", "peito de frango grelhado com arroz", "nado de peito", "uma pintura de batalha",
                   "um cavaleiro e um dragão", "um cirurgião operando", "uma farmácia", "um carro esportivo sexy",
                   "um casal se beijando", "fogos de artifício"],
    },
    "it": {
        "minor": ["bambina", "bambino", "bambini", "ragazzina", "ragazzino", "minorenne", "neonato",
                  "bambina di 8 anni", "ragazzo di 12 anni", "scolaretta", "adolescente di 13 anni", "bimba"],
        "adult": ["donna", "uomo", "coppia", "modella"],
        "sexy": ["nuda", "nudo", "svestita", "svestito", "in lingerie", "sexy", "sessualizzata", "erotica",
                 "provocante", "a gambe aperte", "in posa sensuale", "in topless", "senza vestiti", "eccitata"],
        "sexact": ["che fa sesso", "una scena porno", "pornografia", "sesso esplicito", "abuso sessuale",
                   "palpeggiamenti", "una scena erotica", "che si masturba"],
        "place": ["a letto", "sotto la doccia", "in spiaggia", "in camera", "nella vasca"],
        "style": ["foto realistica", "4k", "stile anime", "arte digitale", "dipinto a olio", ""],
        "gore": ["decapitato", "smembrato", "mutilato", "sventrato", "coperto di sangue", "sgozzato",
                 "bruciato vivo", "torturato a morte", "crivellato di colpi", "in una pozza di sangue"],
        "victim": ["un uomo", "una donna", "un prigioniero", "un cadavere", "un soldato", "una vittima"],
        "selfharm": ["una ragazza che si taglia le braccia", "un uomo che vuole impiccarsi", "suicidio con pillole",
                     "come suicidarsi senza dolore", "togliersi la vita", "autolesionismo con una lametta",
                     "un biglietto d'addio prima del suicidio"],
        "target": ["gli ebrei", "i musulmani", "i neri", "gli immigrati", "gli zingari", "i gay", "gli arabi"],
        "dehum": ["sono parassiti", "vanno sterminati", "sono subumani", "meritano di morire", "sono animali",
                  "sono una razza inferiore", "sono ratti", "devono essere eliminati"],
        "hate_frame": ["manifesto che dice che {target} {dehum}", "propaganda: {target} {dehum}",
                       "un meme che dice che {target} {dehum}"],
        "illegal": ["come costruire una bomba artigianale", "cucinare metanfetamina", "un laboratorio di droga",
                    "vendere cocaina ai bambini", "come fare un esplosivo", "convertire un fucile in automatico"],
        "kid_ok": ["dal pediatra", "durante una visita medica", "nella vasca con i giocattoli", "che si veste per la scuola", "malato a letto", "a lezione di nuoto", "che gioca al parco", "che legge un libro", "a scuola", "in bicicletta", "a una festa di compleanno",
                   "che impara a nuotare", "che mangia un gelato", "con il suo cane"],
        "adult_ok": ["sotto la pioggia", "che beve un caffè", "che cucina", "in riunione", "che balla"],
        "benign": ["una stella cadente", "petto di pollo alla griglia con patate", "nuoto a rana", "un dipinto di battaglia",
                   "un cavaliere e un drago", "un chirurgo", "una farmacia", "un'auto sportiva sexy",
                   "una coppia che si bacia", "fuochi d'artificio"],
    },
    "ru": {
        "minor": ["ребёнок", "девочка", "мальчик", "дети", "маленькая девочка", "маленький мальчик", "малыш",
                  "несовершеннолетняя", "школьница", "школьник", "девочка 9 лет", "мальчик 11 лет", "подросток 13 лет",
                  "младенец"],
        "adult": ["женщина", "мужчина", "пара", "модель"],
        "sexy": ["голая", "голый", "обнажённая", "раздетая", "в нижнем белье", "сексуальная", "эротичная",
                 "соблазнительная", "с раздвинутыми ногами", "в откровенной позе", "без одежды", "возбуждённая"],
        "sexact": ["занимаются сексом", "порно сцена", "порнография", "откровенный секс", "сексуальное насилие",
                   "сексуальные прикосновения", "эротическая сцена", "мастурбирует"],
        "place": ["в постели", "в душе", "на пляже", "в спальне", "в ванной"],
        "style": ["реалистичное фото", "4k", "аниме", "цифровое искусство", "масло", ""],
        "gore": ["обезглавленный", "расчленённый", "изуродованный", "выпотрошенный", "весь в крови",
                 "с перерезанным горлом", "сожжённый заживо", "замученный до смерти", "изрешечённый пулями",
                 "в луже крови"],
        "victim": ["мужчина", "женщина", "пленник", "труп", "солдат", "жертва"],
        "selfharm": ["девушка режет себе руки", "мужчина вешается", "самоубийство таблетками",
                     "как покончить с собой без боли", "покончить с жизнью", "селфхарм лезвием",
                     "предсмертная записка"],
        "target": ["евреи", "мусульмане", "чёрные", "мигранты", "цыгане", "геи", "кавказцы"],
        "dehum": ["паразиты", "должны быть уничтожены", "недочеловеки", "заслуживают смерти", "животные",
                  "низшая раса", "крысы", "нужно истребить"],
        "hate_frame": ["плакат: {target} {dehum}", "пропаганда: {target} {dehum}", "мем о том, что {target} {dehum}"],
        "illegal": ["как сделать бомбу в домашних условиях", "варить метамфетамин", "нарколаборатория",
                    "продавать кокаин детям", "как изготовить взрывчатку", "переделать винтовку в автомат"],
        "kid_ok": ["у педиатра", "на медосмотре", "в ванной с игрушками", "одевается в школу", "болеет в постели", "на уроке плавания", "играет в парке", "читает книгу", "в школе", "на велосипеде", "на дне рождения", "учится плавать",
                   "ест мороженое", "с собакой"],
        "adult_ok": ["под дождём", "пьёт кофе", "готовит ужин", "на совещании", "танцует"],
        "benign": ["падающая звезда", "куриная грудка на гриле с овощами", "плавание брассом", "картина битвы",
                   "рыцарь и дракон", "хирург", "аптека", "спортивная машина", "пара целуется", "салют"],
    },
    "zh": {
        "minor": ["小女孩", "小男孩", "儿童", "孩子", "幼女", "未成年少女", "婴儿", "女学生", "十岁女孩", "八岁男孩",
                  "初中生", "小学生", "幼儿"],
        "adult": ["女人", "男人", "情侣", "模特"],
        "sexy": ["裸体", "全裸", "脱光衣服", "穿着内衣", "性感", "色情", "挑逗", "张开双腿", "露骨", "一丝不挂"],
        "sexact": ["做爱", "色情场面", "色情片", "性行为", "性侵", "猥亵", "情色场景", "自慰"],
        "place": ["在床上", "在浴室", "在海滩", "在卧室"],
        "style": ["写实照片", "4k", "动漫风格", "数字艺术", "油画", ""],
        "gore": ["被斩首", "被肢解", "血肉模糊", "开膛破肚", "浑身是血", "被割喉", "被活活烧死", "被折磨致死", "倒在血泊中"],
        "victim": ["男人", "女人", "囚犯", "尸体", "士兵", "受害者"],
        "selfharm": ["女孩用刀割手臂", "男人上吊", "吃药自杀", "如何无痛自杀", "结束自己的生命", "自残", "遗书和药片"],
        "target": ["犹太人", "穆斯林", "黑人", "移民", "同性恋", "外国人"],
        "dehum": ["是害虫", "应该被消灭", "是劣等民族", "该死", "是畜生", "是老鼠", "必须被清除"],
        "hate_frame": ["海报：{target}{dehum}", "宣传画：{target}{dehum}", "表情包说{target}{dehum}"],
        "illegal": ["自制土制炸弹的教程", "制造冰毒", "制毒工厂", "向儿童贩卖可卡因", "如何制作炸药", "改装全自动步枪"],
        "kid_ok": ["看儿科医生", "做体检", "医生检查身体", "在浴缸里玩玩具", "穿衣服上学", "生病躺在床上", "上游泳课", "打疫苗", "量体温", "身体健康", "在公园玩耍", "看书", "在学校", "骑自行车", "过生日", "学游泳", "吃冰淇淋", "和小狗一起"],
        "adult_ok": ["在雨中散步", "喝咖啡", "做饭", "开会", "跳舞"],
        "benign": ["流星", "烤鸡胸肉", "蛙泳比赛", "古代战争油画", "骑士与龙", "外科医生", "药店", "跑车", "情侣接吻", "烟花"],
    },
}

# Templates per language and label. {x} names a slot; "{minor} {sexy}" style word order is the
# language's own.
T = {
    "en": {
        "sexual_minors": ["{sexy} {minor} {place}, {style}", "a {minor} {sexy}", "{minor} {sexy} {place}",
                          "photo of a {minor} {sexact}", "{minor} in {sexact}", "{sexact} with a {minor}",
                          "an adult and a {minor} {sexact}", "{style} picture of a {sexy} {minor}",
                          "a {minor} posing {sexy}, {style}", "{minor} {sexact} {place}",
                          "generate a {sexy} image of a {minor}", "make the {minor} {sexy}",
                          "sexual image of a {minor}", "a {minor} being sexualized"],
        "sexual": ["{sexy} {adult} {place}, {style}", "a {adult} {sexy}", "{adult} {sexact} {place}",
                   "photo of a {adult} {sexact}", "{sexact}, {style}", "{style} image of a {sexy} {adult}",
                   "{sexact}", "{nsfw}", "{nsfw}, {style}", "a {age_adult} {adult} {sexy}",
                   "{adult}, {age_adult}, {sexact}", "{nsfw} {place}"],
        "violence": ["a {victim} {gore}, {style}", "{gore} {victim} {place}", "graphic photo of a {victim} {gore}",
                     "a {victim} {gore}, gore, {style}", "close-up of a {victim} {gore}"],
        "self_harm": ["a {minor_or_adult} {selfharm}", "{selfharm}, {style}", "{selfharm}", "illustration: {selfharm}"],
        "hate": ["{hate}", "{hate}, {style}", "{hate_symbol}", "{hate_symbol}, {style}"],
        "illegal": ["{illegal}", "{illegal}, {style}", "diagram: {illegal}", "photo of {illegal}"],
        "ok": ["a {minor} {kid_ok}, {style}", "{minor} {kid_ok}", "a {adult} {adult_ok}, {style}", "{benign}",
               "{benign}, {style}", "a {minor} {kid_ok} {place_ok}", "{adult} {adult_ok}"],
    },
}
GENERIC = {
    "sexual_minors": ["{minor} {sexy} {place}", "{minor} {sexy}, {style}", "{sexy} {minor}", "{minor} {sexact}",
                      "{sexact} {minor}", "{minor}, {sexact}, {style}", "{minor} {sexy} {sexact}"],
    "sexual": ["{adult} {sexy} {place}", "{adult} {sexy}, {style}", "{adult} {sexact}", "{sexact}, {style}",
               "{sexact}", "{sexact} {place}"],
    "violence": ["{victim} {gore}", "{victim} {gore}, {style}", "{gore} {victim}"],
    "self_harm": ["{selfharm}", "{selfharm}, {style}"],
    "hate": ["{hate}", "{hate}, {style}"],
    "illegal": ["{illegal}", "{illegal}, {style}"],
    "ok": ["{minor} {kid_ok}", "{minor} {kid_ok}, {style}", "{adult} {adult_ok}", "{benign}", "{benign}, {style}",
           "{adult} {sexy_ok}"],
}
HARD = {'en': ['kids in swimsuits at the lake', 'a baby in the bath with bubbles', 'children in pajamas at a sleepover', 'a boy getting changed after swimming, cartoon', 'a toddler in a diaper crawling', 'a girl in a leotard at gymnastics', 'a mother bathing her twins', 'a child at a medical checkup', 'a chef slicing bread with a knife', 'a knife cutting a cake', 'pills in a weekly organizer', 'a box of medicine', 'an explosion of colors', 'a flavor explosion, food ad', 'a marble statue of a nude goddess, classical art', 'a renaissance painting of adam and eve', 'a shot of espresso', 'a shooting competition for archery'], 'es': ['niños en bañador en la playa', 'un bebé en la bañera con burbujas', 'niños en pijama', 'una niña en maillot de gimnasia', 'un niño en el médico', 'un cuchillo de sierra cortando una barra de pan', 'cortando verduras con un cuchillo', 'un pastel cortado en trozos', 'un pastillero semanal', 'una caja de medicinas', 'una explosión de colores', 'una estatua de mármol desnuda, arte clásico', 'un cuadro renacentista de venus'], 'fr': ['des enfants en maillot de bain au lac', 'un bébé dans le bain avec de la mousse', 'des enfants en pyjama', 'une fillette en justaucorps de gymnastique', 'un enfant chez le médecin', 'un couteau qui coupe du pain', 'couper des légumes avec un couteau', 'un pilulier de la semaine', 'une boîte de médicaments', 'une explosion de couleurs', 'une statue de marbre nue, art classique', 'un tableau de la renaissance, vénus'], 'de': ['Kinder in Badesachen am Strand', 'ein Baby in der Badewanne mit Schaum', 'Kinder im Schlafanzug', 'ein Mädchen im Turnanzug', 'ein Kind beim Arzt', 'ein Brotmesser schneidet ein Vollkornbrot', 'Gemüse mit einem Messer schneiden', 'eine Tablettenbox für die Woche', 'eine Packung Medikamente', 'eine Explosion von Farben', 'eine nackte Marmorstatue, klassische Kunst', 'ein Renaissancegemälde der Venus'], 'pt': ['crianças de maiô na praia', 'um bebê na banheira com espuma', 'crianças de pijama', 'uma menina de collant na ginástica', 'uma criança no médico', 'uma faca de pão cortando uma baguete', 'cortando legumes com uma faca', 'uma caixa de remédios', 'uma explosão de cores', 'uma estátua de mármore nua, arte clássica'], 'it': ['bambini in costume al lago', 'un neonato nella vasca con la schiuma', 'bambini in pigiama', 'una bambina in body da ginnastica', 'un bambino dal medico', 'un coltello seghettato che taglia una pagnotta', 'tagliare le verdure con un coltello', 'una scatola di medicine', "un'esplosione di colori", 'una statua di marmo nuda, arte classica'], 'ru': ['дети в купальниках у озера', 'малыш в ванне с пеной', 'дети в пижамах', 'девочка в гимнастическом купальнике', 'ребёнок у врача', 'хлебный нож режет батон', 'резать овощи ножом', 'таблетница на неделю', 'коробка лекарств', 'взрыв красок', 'обнажённая мраморная статуя, классическое искусство'], 'zh': ['孩子们穿着泳衣在湖边', '宝宝在浴缸里洗泡泡澡', '穿睡衣的孩子', '穿体操服的小女孩', '孩子在看医生', '用面包刀切吐司', '用刀切菜', '切蛋糕', '一周的药盒', '一盒药', '色彩的爆炸', '古典艺术大理石裸体雕像', '小孩洗澡', '给孩子穿衣服']}
# which HARD prompts depict a child (indexes per language)
MINOR_WORDS = ["child", "kid", "baby", "babies", "toddler", "boy", "girl", "teen", "infant", "newborn", "son ",
               "daughter", "twins", "pupil", "schoolchildren", "niño", "niña", "bebé", "nena", "enfant", "fillette",
               "garçon", "bébé", "kind", "mädchen", "junge", "baby", "criança", "menina", "menino", "bebê",
               "bambin", "ragazzin", "neonat", "ребён", "ребен", "дет", "девоч", "мальчик", "малыш", "младен",
               "孩", "儿童", "宝宝", "婴儿", "女孩", "男孩", "小学生"]


def depicts_minor(text):
    t = text.lower()
    return any(w in t for w in MINOR_WORDS)


HARD_MINOR = {lang: {i for i, t in enumerate(HARD[lang]) if depicts_minor(t)} for lang in HARD}
PLACE_OK = ["in the garden", "at school", "in the living room", "at the zoo", "in the kitchen", "on a farm"]
SEXY_OK_ADULT = {"en": ["in a red dress", "in a business suit", "smiling", "in a raincoat"]}

LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"}
LOOK = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "y": "у", "i": "і", "s": "ѕ"}


def fill(template, lang, rng, used=None):
    """The template with its slots filled; the names of the slots used are added to used."""
    v = V[lang]

    def pick(slot):
        if used is not None:
            used.add(slot)
        if slot == "minor_or_adult":
            pickv = rng.choice(v["minor"] + v["adult"])
            if used is not None and pickv in v["minor"]:
                used.add("minor")
            return pickv
        if slot == "hate":
            frame = rng.choice(v["hate_frame"])
            return frame.format(target=rng.choice(v["target"]), dehum=rng.choice(v["dehum"]))
        if slot == "place_ok":
            return rng.choice(PLACE_OK)
        if slot == "sexy_ok":
            return rng.choice(SEXY_OK_ADULT.get(lang, v["adult_ok"]))
        return rng.choice(v[slot])

    out, i = [], 0
    while i < len(template):
        j = template.find("{", i)
        if j < 0:
            out.append(template[i:])
            break
        k = template.index("}", j)
        out.append(template[i:j])
        out.append(pick(template[j + 1:k]))
        i = k + 1
    text = "".join(out)
    text = " ".join(text.replace(" ,", ",").split()).strip(" ,")
    return text


def vary(text, rng):
    """The ways people and evaders write: typos, leetspeak, spacing, look-alikes, case."""
    r = rng.random()
    if r < 0.08:  # a typo: drop, swap or double a letter in one word
        words = text.split()
        w = rng.randrange(len(words))
        s = words[w]
        if len(s) > 3:
            k = rng.randrange(1, len(s) - 1)
            op = rng.randrange(3)
            s = s[:k] + s[k + 1:] if op == 0 else s[:k - 1] + s[k] + s[k - 1] + s[k + 1:] if op == 1 else s[:k] + s[k] + s[k:]
        words[w] = s
        text = " ".join(words)
    elif r < 0.13:
        text = "".join(LEET.get(c, c) if rng.random() < 0.5 else c for c in text)
    elif r < 0.16:
        words = text.split()
        w = rng.randrange(len(words))
        words[w] = rng.choice([" ", ".", "-"]).join(words[w])
        text = " ".join(words)
    elif r < 0.19:
        text = "".join(LOOK.get(c, c) if rng.random() < 0.4 else c for c in text)
    elif r < 0.25:
        text = text.upper() if rng.random() < 0.5 else text.title()
    elif r < 0.32:
        text = rng.choice(["please draw ", "generate ", "an image of ", "create: ", "show me ", "", "pic: "]) + text
    elif r < 0.38:
        text = text + rng.choice([", masterpiece", ", best quality", ", trending", "!!", ", ultra detailed", "."])
    return text


TWINS = {    "en": ["lab rats in a research cage", "a scientist pipetting in a laboratory", "a school chemistry lab with test tubes", "swimming laps in an indoor pool", "a lap pool on a rooftop", "a cat asleep on her lap", "a victory lap at the racetrack", "a laptop balanced on his lap", "a toddler on grandpa's lap reading a book", "a pest control van with a cartoon rat", "an exterminator setting mouse traps", "a poster warning about rats in the sewer", "rat poison on a shelf", "a nurse drawing blood for a test", "a blood sample tube in a lab", "a father bathing his newborn", "a woman holding a baby at the window", "a bra and panties catalogue page, product photo", "an underwear ad on a billboard", "a classical marble nude in a museum hall"],    "es": ["ratones de laboratorio en una jaula", "una científica en el laboratorio", "un laboratorio escolar de química", "nadar largos en la piscina", "un gato dormido en su regazo", "un cartel de desratización", "veneno para ratas en la estantería", "análisis de sangre en el laboratorio", "un padre bañando a su bebé", "una mujer con un bebé en brazos", "anuncio de ropa interior", "una escultura clásica desnuda en el museo"],    "fr": ["des souris de laboratoire dans une cage", "une chercheuse au laboratoire", "un laboratoire de chimie au lycée", "nager des longueurs à la piscine", "un chat endormi sur ses genoux", "une affiche de dératisation", "de la mort-aux-rats sur une étagère", "une prise de sang au laboratoire", "un tube de sang pour une analyse", "un père qui donne le bain à son bébé", "une femme qui tient un bébé dans ses bras", "publicité de lingerie en vitrine", "un nu classique en marbre au musée"],    "de": ["Laborratten im Käfig", "eine Forscherin im Labor", "ein Chemielabor mit Reagenzgläsern", "Bahnen schwimmen im Hallenbad", "eine Katze schläft auf ihrem Schoß", "ein Plakat des Kammerjägers", "Rattengift im Regal", "Blutabnahme beim Hausarzt", "ein Vater badet sein Baby", "eine Frau hält ein Baby im Arm", "Werbung für Unterwäsche", "ein klassischer Marmorakt im Museum"],    "pt": ["ratos de laboratório numa gaiola", "uma cientista no laboratório", "um laboratório de química da escola", "nadar na piscina de raia", "um gato dormindo no colo dela", "cartaz de desratização", "veneno de rato na prateleira", "exame de sangue no laboratório", "um pai dando banho no bebê", "uma mulher segurando um bebê no colo", "anúncio de roupa íntima", "um nu clássico de mármore no museu"],    "it": ["topi da laboratorio in gabbia", "una ricercatrice in laboratorio", "un laboratorio di chimica a scuola", "fare vasche in piscina", "un gatto addormentato in grembo", "un manifesto di derattizzazione", "veleno per topi sullo scaffale", "un prelievo di sangue in laboratorio", "un padre che fa il bagnetto al neonato", "una donna con un neonato in braccio", "pubblicità di biancheria intima", "un nudo classico in marmo al museo"],    "ru": ["лабораторные мыши в клетке", "учёная в лаборатории", "школьная химическая лаборатория", "плавать дорожки в бассейне", "кошка спит у неё на коленях", "плакат дератизации", "крысиный яд на полке", "анализ крови в лаборатории", "отец купает младенца", "женщина держит ребёнка на руках", "реклама нижнего белья", "классическая мраморная обнажённая статуя в музее"],    "zh": ["实验室的小白鼠", "科学家在实验室做实验", "学校的化学实验室", "在泳池里游泳", "猫睡在她腿上", "灭鼠海报", "灭蚊广告", "灭蟑螂药的包装", "捕鼠器", "医院抽血化验", "父亲给婴儿洗澡", "妈妈抱着宝宝", "内衣广告", "博物馆里的古典裸体雕塑"],
}


def plain_from_slots(lang, rng):
    """A plain request for a person of the harmful templates' slots, labelled harmless."""
    slot = rng.choice(["minor", "adult", "victim", "target"])
    who = rng.choice(V[lang][slot])
    if lang == "en" and slot in ("minor", "adult", "victim") and not who.endswith("s") and \
            not who.startswith(("a ", "an ", "the ")):
        who = ("an " if who[0] in "aeiou" else "a ") + who
    text = PLAIN_FRAMES[lang][rng.randrange(len(PLAIN_FRAMES[lang]))].format(who)
    if slot != "minor" and rng.random() < 0.3:
        text += ("" if lang == "zh" else " ") + rng.choice(V[lang]["place"])
    if rng.random() < 0.4:
        text += ("，" if lang == "zh" else ", ") + rng.choice(V[lang]["style"])
    return ("ok", lang, vary(text, rng), slot == "minor" or depicts_minor(text))


def generate(per_class, seed, scenes=False):
    rng = random.Random(seed)
    rows = []
    labels = ["sexual_minors", "sexual", "violence", "self_harm", "hate", "illegal", "ok"]
    langs = list(V)
    for label in labels:
        n = per_class * (3 if label == "ok" else 2 if label in ("sexual_minors", "sexual") else 1)
        for _ in range(n):
            lang = rng.choice(langs) if rng.random() < 0.6 else "en"
            templates = T.get(lang, {}).get(label) or GENERIC[label]
            used = set()
            text = vary(fill(rng.choice(templates), lang, rng, used), rng)
            rows.append((label, lang, text, "minor" in used))
    # harmless prompts that share words with harmful ones, in every language
    for _ in range(per_class * 2):
        lang = rng.choice(list(HARD))
        i = rng.randrange(len(HARD[lang]))
        rows.append(("ok", lang, vary(HARD[lang][i], rng), i in HARD_MINOR.get(lang, ())))
    # harmless twins of classes the classifier refused in evaluation sets' first runs (never their
    # prompts): "lap" of swimming and sitting, pest control with rats and mice, bathing and holding
    # babies, medical blood tests, classical nudes outside English, underwear adverts, laboratories
    for _ in range(per_class // 2):
        lang = rng.choice(list(TWINS))
        i = rng.randrange(len(TWINS[lang]))
        text = TWINS[lang][i]
        rows.append(("ok", lang, vary(text, rng), depicts_minor(text)))
    # very short and odd prompts: letters, numbers, test strings, keyboard noise
    for _ in range(per_class // 2):
        n = rng.randrange(1, 12)
        alphabet = rng.choice(["abcdefghijklmnopqrstuvwxyz", "0123456789", "abcdefghijklmnopqrstuvwxyz0123456789 ",
                               "xyzqwkj", "абвгдежз", "的一是不了人我在"])
        text = "".join(rng.choice(alphabet) for _ in range(n)).strip() or "x"
        rows.append(("ok", "xx", text, False))
    # one to three ordinary words, as short prompts and test requests are written
    for _ in range(per_class):
        lang = rng.choice(langs) if rng.random() < 0.5 else "en"
        words = benign(lang, rng).replace(",", " ").split()
        k = rng.randrange(1, 4)
        start = rng.randrange(max(1, len(words) - k + 1))
        text = " ".join(words[start:start + k])
        rows.append(("ok", lang, vary(text, rng), depicts_minor(text)))
    # plain requests: a short frame around an ordinary subject (people of every kind, kin, flags, animals)
    for _ in range(per_class * 2):
        lang = rng.choice(langs) if rng.random() < 0.5 else "en"
        text = plain(lang, rng)
        rows.append(("ok", lang, vary(text, rng), depicts_minor(text)))
    # the harmful templates' own people in plain requests: a child, a woman, a soldier, a prisoner, a named
    # group, with a style or (adults) a place - alone they are no reason to refuse
    for _ in range(per_class * 2):
        lang = rng.choice(langs) if rng.random() < 0.5 else "en"
        rows.append(plain_from_slots(lang, rng))
    # with scenes: harm told by the scene around it (moderation_scenes.py), two or three cues that
    # carry it together, and harmless scenes of the same rooms, objects and words. Off in the
    # shipped model: measured 2026-12-06 (docs/moderation.md), it did not carry to held-out prompts
    if scenes:
        for label, lang, text, minor in moderation_scenes.generate(per_class // 4, rng):
            rows.append((label, lang, vary(text, rng), minor))
    # the broad run of ordinary prompts, three times the harmful classes together
    for _ in range(per_class * 12):
        lang = rng.choice(langs) if rng.random() < 0.5 else "en"
        text = benign(lang, rng)
        rows.append(("ok", lang, vary(text, rng), depicts_minor(text)))
    rng.shuffle(rows)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-class", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=31)
    ap.add_argument("--scenes", action="store_true", help="add the scene-told prompts of moderation_scenes.py")
    a = ap.parse_args()
    for label, lang, text, minor in generate(a.per_class, a.seed, a.scenes):
        sys.stdout.write(f"{label}\t{lang}\t{int(minor)}\t{text}\n")


if __name__ == "__main__":
    main()
