#!/usr/bin/env python3
"""Scene-told prompts for the moderation classifier (issue 31): harm described by what surrounds
it -- the moment before, the aftermath, the objects left in a room, the sign on a door, the street
word for a drug -- instead of by its name, and harmless scenes built from the same rooms, objects
and words.

Why: the held-out sets heldout127-137 showed that the rules and a classifier trained only on the
named-harm templates of moderation_data.py catch these styles in 5-35 % of first runs. A prompt
here is composed from two or three cues of different kinds (for a child's abuse: being alone with
an adult, secrecy, undressing, a camera, an adult's clothing coming off; for self-harm: a farewell,
a means, a place of falling; ...) so that the model learns that the cues together carry the harm,
while each cue alone appears in the harmless scenes (a bedtime story told in secret, a camera at
a birthday, a bridge at sunrise) and so carries none.

Nothing here is read from moderation/eval/; tests/moderation/run.py checks that no evaluation
prompt is generated. Rows: (label, lang, text, minor) as moderation_data.generate() makes them."""
import random

# Per language: subject words, then per harmful class cue banks of distinct kinds, and the
# harmless cues that share their rooms, objects and words.
S = {
    "en": {
        "child": ["a little girl", "a small boy", "an eight-year-old", "his stepdaughter", "the neighbour's son",
                  "a girl of ten", "a boy from the choir", "his niece", "a first-grade pupil", "the babysitter's charge",
                  "a child", "a young boy", "a kid from the team", "the little one", "a schoolgirl in pigtails"],
        "adult_m": ["a man", "her uncle", "the coach", "a stranger", "the teacher", "an older man", "the priest",
                    "the photographer", "the landlord", "a bearded man", "her mother's boyfriend", "the tutor"],
        "cm_alone": ["alone with {a} in a locked room", "in {a}'s car parked behind the school after dark",
                     "sent to {a}'s room at night", "in a motel room with {a}", "in {a}'s basement with the door shut",
                     "on {a}'s lap in an empty house", "kept late after practice with {a}",
                     "in the back of {a}'s van", "lying in {a}'s bed"],
        "cm_secret": ["told it is their special secret", "told not to tell mommy", "promised a present for keeping quiet",
                      "told nobody would believe her", "told this is how grown-ups show love",
                      "made to promise never to tell", "told it is a game only the two of them play",
                      "hushed with a finger on the lips"],
        "cm_undress": ["being told to take off her clothes", "with his trousers unbuckled", "her nightgown pulled up",
                       "his shirt off and the child's pyjamas on the floor", "being undressed by {a}",
                       "her underwear around her ankles", "made to touch {a}", "{a} touching the child under the blanket",
                       "being bathed by {a} who keeps touching", "{a}'s hand under her skirt"],
        "cm_camera": ["a camera recording from the dresser", "{a} taking private photos of the child",
                      "a webcam left on in the child's bedroom", "{a} filming the child getting undressed",
                      "photos of the child sent to strangers online", "a phone propped up to record the bed"],
        "ok_kid": ["reading a bedtime story with {a}", "at a piano lesson with {a}", "being tucked in by {a}",
                   "getting a plaster on a scraped knee from {a}", "at the doctor's with {a} and mum",
                   "opening a birthday present from {a}", "learning to fish with {a}", "in a swimming lesson",
                   "telling {a} a secret about a surprise party", "keeping the surprise party a secret",
                   "posing for a school photo", "in pyjamas at a sleepover with friends",
                   "having her hair braided by {a}", "changing into a swimsuit in the family cabin",
                   "being filmed by {a} at the school play", "in the back of the car on a road trip",
                   "waiting alone in the car while {a} buys milk", "hiding under the blanket in a pillow fort"],
        "sh_farewell": ["a farewell letter to her family on the pillow", "writing 'sorry, I love you all' on a note",
                        "giving away his favourite things to friends", "a text saying 'you won't have to worry about me anymore'",
                        "her phone showing goodbye messages to everyone", "an envelope marked 'to mum, after'"],
        "sh_means": ["a handful of pills counted out on the table", "a razor blade beside the bath",
                     "fresh cuts up and down her forearm", "a noose hanging from the stair rail",
                     "the car running in a closed garage", "an empty pill bottle tipped over",
                     "a belt looped over the closet door", "long sleeves hiding the scars, a blade in the drawer"],
        "sh_place": ["standing on the ledge of the rooftop", "stepping over the bridge railing",
                     "sitting on the train tracks at night", "at the edge of the cliff, ready to jump",
                     "in a bathtub of red water", "locked in the bathroom, not answering"],
        "ok_sh": ["a barber sharpening a straight razor", "a pharmacist counting pills for a prescription",
                  "a love letter on the pillow", "a hiker at the edge of the cliff watching the sunrise",
                  "a photographer on the rooftop at dawn", "a rope swing hanging from an oak tree",
                  "a nurse bandaging a cut on a forearm", "a tightrope walker at the circus",
                  "a farewell party for a retiring colleague", "a climber roped to the bridge for an inspection",
                  "a bubble bath with candles", "a train at a station at night"],
        "v_body": ["a body rolled up in a carpet", "a corpse face down in the ditch", "a man's remains in the freezer",
                   "bodies stacked in the back of a truck", "a head in a bucket", "a hand with the fingers cut off",
                   "a woman's body in the bathtub, throat slit", "a hanged prisoner left for the crows"],
        "v_blood": ["the walls sprayed with blood", "a pool of blood spreading under the door",
                    "blood dripping from the ceiling", "brains on the windshield", "drag marks of blood down the hall",
                    "teeth and blood on the pavement", "flies on the open wounds"],
        "v_act": ["the killer still holding the axe", "a chainsaw left running beside him",
                  "the hostages shot kneeling in a row", "a man beaten until his face caved in",
                  "the shooter walking through the classroom", "soldiers burning the villagers in the church"],
        "ok_v": ["a pool of red wine spreading under the table", "red paint dripping down the wall, art studio",
                 "a carpet rolled up in the back of a moving van", "a butcher hanging meat in the freezer",
                 "a crime novel cover with a chalk outline", "ketchup on the pavement by a hot dog stand",
                 "an axe in a stump next to a pile of firewood", "a chainsaw carving a bear from a log",
                 "a haunted house decoration with fake blood, cartoon", "a museum diorama of a medieval battle"],
        "h_sign": ["a sign on the shop door: no {g} allowed", "'{g} out' painted across a house",
                   "a banner at the stadium calling {g} vermin", "a poster showing {g} as rats leaving a ship",
                   "a map marking where the {g} live, for the night of the raid", "a flyer: {g} are not human",
                   "graffiti of a noose with '{g} next' on a wall", "a march carrying torches and signs against {g}"],
        "h_group": ["jews", "muslims", "black people", "immigrants", "gay people", "roma", "refugees", "asians",
                    "arabs", "mexicans", "trans people"],
        "ok_h": ["a sign on the shop door: no dogs allowed", "a sign: staff only beyond this point",
                 "a banner at the stadium cheering the home team", "a map marking where the owls nest",
                 "a flyer for a neighbourhood bake sale", "a torchlight parade for a winter festival",
                 "a poster welcoming refugees to a community dinner", "a mural celebrating the city's immigrants"],
        "i_slang": ["molly", "tina", "ice", "crystal", "snow", "skunk", "percs", "bars", "lean", "blues", "boy",
                    "girl", "white", "shard", "gear", "rock", "shrooms", "ket", "m-cat", "oxy", "addys", "dabs"],
        "i_deal": ["weighing {s} on a digital scale into baggies", "selling {s} out of a car window",
                   "cutting {s} with a razor on a mirror", "cooking {s} in a trailer with a gas mask on",
                   "a plug handing over {s} for a roll of cash", "bricks of {s} taped up in the spare tyre",
                   "smoking {s} through a foil tube", "a trap house table covered in {s} and cash",
                   "a runner with {s} stuffed in his sock", "snorting a line of {s} off a toilet seat"],
        "i_gun": ["a pistol with a switch fitted to fire full auto", "a ghost gun printed at home with no serial",
                  "a sawn-off shotgun under the car seat", "a homemade silencer screwed onto a rifle",
                  "a pipe bomb packed with nails", "a box of grenades for sale in a parking lot"],
        "ok_i": ["ice on a frozen pond", "a crystal vase on a table", "a snowy field at dawn",
                 "a golden retriever named Molly", "a skunk in the garden at night", "a bowl of blueberries",
                 "a chocolate bar broken into bars", "a scale weighing flour for a cake", "a rock on the beach",
                 "a light switch on a white wall", "a plug socket in the kitchen", "a trap for mice in the barn",
                 "a jeweller weighing gold on a digital scale", "a chef cutting sugar cubes",
                 "a mirror on the bathroom wall", "a gas mask in a war museum", "a water pistol at a pool party"],
        "style": ["photo", "realistic", "cinematic", "film still", "dark mood", "4k", "news photo",
                  "oil painting", "digital art", "", "", ""],
    },
    "es": {
        "child": ["una niña pequeña", "un niño pequeño", "una niña de diez años", "su hijastra", "el hijo del vecino",
                  "un niño del coro", "su sobrina", "una alumna de primaria"],
        "adult_m": ["un hombre", "su tío", "el entrenador", "un desconocido", "el profesor", "el fotógrafo"],
        "cm_alone": ["a solas con {a} en una habitación cerrada", "en el coche de {a} detrás del colegio de noche",
                     "en un motel con {a}", "en el sótano de {a} con la puerta cerrada", "en la cama de {a}"],
        "cm_secret": ["le dicen que es su secreto especial", "le dicen que no se lo cuente a mamá",
                      "le prometen un regalo si se calla", "le dicen que nadie le creería"],
        "cm_undress": ["le dicen que se quite la ropa", "con el pantalón desabrochado", "el camisón levantado",
                       "{a} la toca bajo la manta", "la ropa interior por los tobillos"],
        "cm_camera": ["una cámara grabando desde la cómoda", "{a} sacándole fotos íntimas",
                      "{a} la graba mientras se desviste", "fotos de la niña enviadas a desconocidos"],
        "ok_kid": ["leyendo un cuento con {a}", "en clase de piano con {a}", "en el médico con {a} y mamá",
                   "abriendo un regalo de cumpleaños de {a}", "guardando el secreto de la fiesta sorpresa",
                   "en pijama en una fiesta de pijamas", "{a} la graba en la función del colegio"],
        "sh_farewell": ["una carta de despedida a su familia sobre la almohada", "una nota que dice 'perdón, os quiero'",
                        "regalando sus cosas favoritas a los amigos"],
        "sh_means": ["un puñado de pastillas contadas sobre la mesa", "una cuchilla junto a la bañera",
                     "cortes recientes en el antebrazo", "una soga colgada de la barandilla"],
        "sh_place": ["de pie en el borde de la azotea", "pasando la barandilla del puente",
                     "sentado en las vías del tren de noche", "en una bañera de agua roja"],
        "ok_sh": ["un barbero afilando una navaja", "una farmacéutica contando pastillas",
                  "una carta de amor sobre la almohada", "un excursionista al borde del acantilado al amanecer",
                  "un columpio de cuerda en un roble", "una enfermera vendando un corte en el brazo"],
        "v_body": ["un cuerpo enrollado en una alfombra", "un cadáver boca abajo en la cuneta",
                   "cuerpos apilados en un camión", "una mano con los dedos cortados"],
        "v_blood": ["las paredes salpicadas de sangre", "un charco de sangre bajo la puerta",
                    "sangre goteando del techo", "moscas sobre las heridas abiertas"],
        "v_act": ["el asesino aún con el hacha en la mano", "rehenes fusilados de rodillas en fila",
                  "un hombre golpeado hasta hundirle la cara"],
        "ok_v": ["un charco de vino tinto bajo la mesa", "pintura roja goteando por la pared, taller de arte",
                 "una alfombra enrollada en un camión de mudanzas", "un hacha clavada en un tocón junto a la leña"],
        "h_sign": ["un cartel en la tienda: prohibida la entrada a {g}", "'fuera {g}' pintado en una casa",
                   "un cartel que muestra a los {g} como ratas", "un panfleto: los {g} no son humanos"],
        "h_group": ["judíos", "musulmanes", "gitanos", "inmigrantes", "negros", "gays", "moros"],
        "ok_h": ["un cartel en la tienda: prohibidos los perros", "una pancarta animando al equipo local",
                 "un cartel de bienvenida a los refugiados", "un mural que celebra a los inmigrantes del barrio"],
        "i_slang": ["perico", "tusi", "farlopa", "hielo", "cristal", "chocolate", "maría", "nieve", "pastis"],
        "i_deal": ["pesando {s} en una báscula en bolsitas", "vendiendo {s} por la ventanilla del coche",
                   "cortando {s} con una cuchilla sobre un espejo", "cocinando {s} en una caravana con máscara de gas",
                   "ladrillos de {s} escondidos en la rueda de repuesto"],
        "i_gun": ["una pistola modificada para disparar en ráfaga", "una pistola impresa en 3d sin número de serie",
                  "una escopeta recortada bajo el asiento"],
        "ok_i": ["hielo en un estanque helado", "un jarrón de cristal", "una taza de chocolate caliente",
                 "una báscula pesando harina para un pastel", "un campo de nieve al amanecer", "un espejo en el baño"],
        "style": ["foto", "realista", "cinematográfico", ""],
    },
    "fr": {
        "child": ["une petite fille", "un petit garçon", "une fillette de dix ans", "sa belle-fille", "le fils du voisin",
                  "sa nièce", "un écolier"],
        "adult_m": ["un homme", "son oncle", "l'entraîneur", "un inconnu", "le professeur", "le photographe"],
        "cm_alone": ["seule avec {a} dans une chambre fermée à clé", "dans la voiture de {a} derrière l'école la nuit",
                     "dans un motel avec {a}", "dans la cave de {a}, porte fermée", "dans le lit de {a}"],
        "cm_secret": ["on lui dit que c'est leur petit secret", "on lui dit de ne rien dire à maman",
                      "on lui promet un cadeau si elle se tait", "on lui dit que personne ne la croirait"],
        "cm_undress": ["on lui dit d'enlever ses vêtements", "le pantalon déboutonné", "la chemise de nuit relevée",
                       "{a} la touche sous la couverture", "la culotte baissée"],
        "cm_camera": ["une caméra qui filme depuis la commode", "{a} prenant des photos intimes de l'enfant",
                      "{a} la filme pendant qu'elle se déshabille"],
        "ok_kid": ["lisant une histoire avec {a}", "au cours de piano avec {a}", "chez le médecin avec {a} et maman",
                   "ouvrant un cadeau d'anniversaire de {a}", "gardant le secret de la fête surprise",
                   "en pyjama à une soirée pyjama"],
        "sh_farewell": ["une lettre d'adieu à sa famille sur l'oreiller", "un mot : 'pardon, je vous aime'"],
        "sh_means": ["une poignée de cachets comptés sur la table", "une lame de rasoir au bord de la baignoire",
                     "des coupures fraîches sur l'avant-bras", "une corde nouée à la rampe"],
        "sh_place": ["debout au bord du toit", "enjambant le parapet du pont", "assis sur les rails la nuit"],
        "ok_sh": ["un barbier qui aiguise un rasoir", "une pharmacienne qui compte des comprimés",
                  "une lettre d'amour sur l'oreiller", "un randonneur au bord de la falaise au lever du soleil"],
        "v_body": ["un corps roulé dans un tapis", "un cadavre face contre terre dans le fossé",
                   "des corps empilés dans un camion"],
        "v_blood": ["les murs éclaboussés de sang", "une flaque de sang sous la porte", "des mouches sur les plaies"],
        "v_act": ["le tueur tenant encore la hache", "des otages abattus à genoux"],
        "ok_v": ["une flaque de vin rouge sous la table", "de la peinture rouge qui coule sur le mur, atelier",
                 "une hache plantée dans une souche près du bois"],
        "h_sign": ["une pancarte sur la boutique : interdit aux {g}", "'{g} dehors' peint sur une maison",
                   "une affiche montrant les {g} comme des rats", "un tract : les {g} ne sont pas humains"],
        "h_group": ["juifs", "musulmans", "roms", "immigrés", "noirs", "arabes"],
        "ok_h": ["une pancarte sur la boutique : interdit aux chiens", "une banderole pour l'équipe locale",
                 "une affiche qui accueille les réfugiés"],
        "i_slang": ["coke", "cristal", "glace", "beuh", "shit", "neige", "cachets"],
        "i_deal": ["pesant de la {s} sur une balance en sachets", "vendant de la {s} par la vitre de la voiture",
                   "coupant de la {s} avec une lame sur un miroir", "des pains de {s} cachés dans la roue de secours"],
        "i_gun": ["un pistolet modifié pour tirer en rafale", "un pistolet imprimé en 3d sans numéro de série"],
        "ok_i": ["de la glace sur un étang gelé", "un vase en cristal", "une balance qui pèse de la farine",
                 "de la neige sur un champ à l'aube", "un miroir dans la salle de bain"],
        "style": ["photo", "réaliste", "cinématographique", ""],
    },
    "de": {
        "child": ["ein kleines Mädchen", "ein kleiner Junge", "ein zehnjähriges Mädchen", "seine Stieftochter",
                  "der Sohn des Nachbarn", "seine Nichte", "ein Grundschüler"],
        "adult_m": ["ein Mann", "ihr Onkel", "der Trainer", "ein Fremder", "der Lehrer", "der Fotograf"],
        "cm_alone": ["allein mit {a} in einem abgeschlossenen Zimmer", "in {a}s Auto hinter der Schule bei Nacht",
                     "in einem Motelzimmer mit {a}", "in {a}s Keller bei verschlossener Tür", "in {a}s Bett"],
        "cm_secret": ["ihr wird gesagt, das sei ihr Geheimnis", "sie soll Mama nichts sagen",
                      "ein Geschenk, wenn sie schweigt", "ihr wird gesagt, niemand würde ihr glauben"],
        "cm_undress": ["sie soll sich ausziehen", "mit offener Hose", "das Nachthemd hochgeschoben",
                       "{a} fasst sie unter der Decke an", "die Unterhose an den Knöcheln"],
        "cm_camera": ["eine Kamera filmt von der Kommode", "{a} macht intime Fotos von dem Kind",
                      "{a} filmt sie beim Ausziehen"],
        "ok_kid": ["liest mit {a} eine Gutenachtgeschichte", "in der Klavierstunde mit {a}",
                   "beim Arzt mit {a} und Mama", "öffnet ein Geburtstagsgeschenk von {a}",
                   "hütet das Geheimnis der Überraschungsparty", "im Schlafanzug bei einer Pyjamaparty"],
        "sh_farewell": ["ein Abschiedsbrief an die Familie auf dem Kopfkissen", "ein Zettel: 'verzeiht mir, ich liebe euch'"],
        "sh_means": ["eine Handvoll abgezählter Tabletten auf dem Tisch", "eine Rasierklinge am Badewannenrand",
                     "frische Schnitte am Unterarm", "ein Strick am Treppengeländer"],
        "sh_place": ["auf dem Dachsims stehend", "über das Brückengeländer steigend", "nachts auf den Gleisen sitzend"],
        "ok_sh": ["ein Barbier schärft ein Rasiermesser", "eine Apothekerin zählt Tabletten ab",
                  "ein Liebesbrief auf dem Kopfkissen", "ein Wanderer am Klippenrand bei Sonnenaufgang"],
        "v_body": ["eine in einen Teppich gerollte Leiche", "ein Toter bäuchlings im Graben",
                   "Leichen gestapelt auf einem Lastwagen"],
        "v_blood": ["die Wände voller Blutspritzer", "eine Blutlache unter der Tür", "Fliegen auf offenen Wunden"],
        "v_act": ["der Mörder noch mit der Axt in der Hand", "Geiseln kniend in einer Reihe erschossen"],
        "ok_v": ["eine Rotweinpfütze unter dem Tisch", "rote Farbe läuft die Wand herunter, Atelier",
                 "eine Axt im Hackklotz neben dem Brennholz"],
        "h_sign": ["ein Schild am Laden: {g} unerwünscht", "'{g} raus' an eine Hauswand gesprüht",
                   "ein Plakat, das {g} als Ratten zeigt", "ein Flugblatt: {g} sind keine Menschen"],
        "h_group": ["Juden", "Muslime", "Zigeuner", "Ausländer", "Schwarze", "Flüchtlinge"],
        "ok_h": ["ein Schild am Laden: Hunde unerwünscht", "ein Banner für die Heimmannschaft",
                 "ein Plakat, das Flüchtlinge willkommen heißt"],
        "i_slang": ["Koks", "Crystal", "Schnee", "Gras", "Pep", "Teile", "Hasch"],
        "i_deal": ["wiegt {s} auf einer Feinwaage in Tütchen ab", "verkauft {s} aus dem Autofenster",
                   "streckt {s} mit einer Klinge auf einem Spiegel", "Pakete {s} im Reserverad versteckt"],
        "i_gun": ["eine Pistole, umgebaut auf Dauerfeuer", "eine 3D-gedruckte Pistole ohne Seriennummer"],
        "ok_i": ["Eis auf einem zugefrorenen Teich", "eine Kristallvase", "eine Waage wiegt Mehl für einen Kuchen",
                 "Schnee auf einem Feld im Morgengrauen", "ein Spiegel im Badezimmer"],
        "style": ["Foto", "realistisch", "filmisch", ""],
    },
    "pt": {
        "child": ["uma menina pequena", "um menino pequeno", "uma menina de dez anos", "a enteada dele", "o filho do vizinho"],
        "adult_m": ["um homem", "o tio dela", "o treinador", "um estranho", "o professor"],
        "cm_alone": ["sozinha com {a} num quarto trancado", "no carro de {a} atrás da escola à noite",
                     "num motel com {a}", "na cama de {a}"],
        "cm_secret": ["dizem que é o segredo deles", "dizem para não contar para a mamãe",
                      "prometem um presente se ela ficar calada"],
        "cm_undress": ["mandam ela tirar a roupa", "com a calça desabotoada", "{a} a toca debaixo do cobertor",
                       "a calcinha nos tornozelos"],
        "cm_camera": ["uma câmera gravando da cômoda", "{a} tirando fotos íntimas da criança",
                      "{a} filma ela se despindo"],
        "ok_kid": ["lendo uma história com {a}", "na aula de piano com {a}", "no médico com {a} e a mamãe",
                   "guardando o segredo da festa surpresa", "de pijama numa festa do pijama"],
        "sh_farewell": ["uma carta de despedida para a família no travesseiro", "um bilhete: 'desculpem, amo vocês'"],
        "sh_means": ["um punhado de comprimidos contados na mesa", "uma lâmina ao lado da banheira",
                     "cortes recentes no antebraço", "uma corda amarrada no corrimão"],
        "sh_place": ["de pé na beira do telhado", "passando o parapeito da ponte", "sentado nos trilhos do trem à noite"],
        "ok_sh": ["um barbeiro afiando uma navalha", "uma farmacêutica contando comprimidos",
                  "uma carta de amor no travesseiro", "um trilheiro na beira do penhasco ao nascer do sol"],
        "v_body": ["um corpo enrolado num tapete", "um cadáver de bruços na vala", "corpos empilhados num caminhão"],
        "v_blood": ["as paredes respingadas de sangue", "uma poça de sangue debaixo da porta", "moscas nas feridas abertas"],
        "v_act": ["o assassino ainda segurando o machado", "reféns fuzilados ajoelhados em fila"],
        "ok_v": ["uma poça de vinho tinto debaixo da mesa", "tinta vermelha escorrendo na parede, ateliê",
                 "um machado cravado num toco ao lado da lenha"],
        "h_sign": ["uma placa na loja: proibida a entrada de {g}", "'fora {g}' pichado numa casa",
                   "um cartaz mostrando os {g} como ratos"],
        "h_group": ["judeus", "muçulmanos", "ciganos", "imigrantes", "negros", "nordestinos"],
        "ok_h": ["uma placa na loja: proibida a entrada de cães", "uma faixa torcendo pelo time da casa"],
        "i_slang": ["pó", "farinha", "cristal", "bala", "maconha", "pedra", "lança"],
        "i_deal": ["pesando {s} numa balança em saquinhos", "vendendo {s} pela janela do carro",
                   "cortando {s} com uma lâmina num espelho", "tijolos de {s} escondidos no estepe"],
        "i_gun": ["uma pistola com kit rajada", "uma arma impressa em 3d sem número de série"],
        "ok_i": ["uma balança pesando farinha para um bolo", "um vaso de cristal", "uma pedra na praia",
                 "uma bala de goma colorida", "um espelho no banheiro"],
        "style": ["foto", "realista", "cinematográfico", ""],
    },
    "it": {
        "child": ["una bambina piccola", "un bambino piccolo", "una bambina di dieci anni", "la figliastra",
                  "il figlio del vicino"],
        "adult_m": ["un uomo", "lo zio", "l'allenatore", "uno sconosciuto", "il professore"],
        "cm_alone": ["da sola con {a} in una stanza chiusa a chiave", "nell'auto di {a} dietro la scuola di notte",
                     "in un motel con {a}", "nel letto di {a}"],
        "cm_secret": ["le dicono che è il loro segreto", "le dicono di non dirlo alla mamma",
                      "le promettono un regalo se sta zitta"],
        "cm_undress": ["le dicono di togliersi i vestiti", "con i pantaloni slacciati", "{a} la tocca sotto la coperta",
                       "le mutandine alle caviglie"],
        "cm_camera": ["una telecamera che riprende dal comò", "{a} che le scatta foto intime",
                      "{a} la filma mentre si spoglia"],
        "ok_kid": ["legge una favola con {a}", "a lezione di pianoforte con {a}", "dal medico con {a} e la mamma",
                   "mantiene il segreto della festa a sorpresa", "in pigiama a un pigiama party"],
        "sh_farewell": ["una lettera d'addio alla famiglia sul cuscino", "un biglietto: 'perdonatemi, vi voglio bene'"],
        "sh_means": ["una manciata di pastiglie contate sul tavolo", "una lametta sul bordo della vasca",
                     "tagli freschi sull'avambraccio", "una corda legata alla ringhiera"],
        "sh_place": ["in piedi sul cornicione del tetto", "oltre il parapetto del ponte", "seduto sui binari di notte"],
        "ok_sh": ["un barbiere che affila un rasoio", "una farmacista che conta le pastiglie",
                  "una lettera d'amore sul cuscino", "un escursionista sul bordo della scogliera all'alba"],
        "v_body": ["un corpo arrotolato in un tappeto", "un cadavere a faccia in giù nel fosso",
                   "corpi ammucchiati su un camion"],
        "v_blood": ["i muri schizzati di sangue", "una pozza di sangue sotto la porta", "mosche sulle ferite aperte"],
        "v_act": ["l'assassino ancora con l'ascia in mano", "ostaggi fucilati in ginocchio in fila"],
        "ok_v": ["una pozza di vino rosso sotto il tavolo", "vernice rossa che cola sul muro, atelier",
                 "un'ascia piantata in un ceppo vicino alla legna"],
        "h_sign": ["un cartello sul negozio: vietato l'ingresso ai {g}", "'fuori i {g}' dipinto su una casa",
                   "un manifesto che mostra i {g} come ratti"],
        "h_group": ["ebrei", "musulmani", "zingari", "immigrati", "neri", "terroni"],
        "ok_h": ["un cartello sul negozio: vietato l'ingresso ai cani", "uno striscione per la squadra di casa"],
        "i_slang": ["bamba", "neve", "cristallo", "erba", "fumo", "pasticche", "roba"],
        "i_deal": ["pesa la {s} su un bilancino in bustine", "vende {s} dal finestrino dell'auto",
                   "taglia la {s} con una lametta su uno specchio", "panetti di {s} nascosti nella ruota di scorta"],
        "i_gun": ["una pistola modificata per sparare a raffica", "una pistola stampata in 3d senza matricola"],
        "ok_i": ["un bilancino che pesa la farina per una torta", "un vaso di cristallo", "neve su un campo all'alba",
                 "erba fresca in un prato", "uno specchio in bagno"],
        "style": ["foto", "realistico", "cinematografico", ""],
    },
    "ru": {
        "child": ["маленькая девочка", "маленький мальчик", "десятилетняя девочка", "его падчерица", "соседский сын"],
        "adult_m": ["мужчина", "её дядя", "тренер", "незнакомец", "учитель"],
        "cm_alone": ["наедине с {a} в запертой комнате", "в машине {a} за школой ночью", "в мотеле с {a}",
                     "в постели {a}"],
        "cm_secret": ["ей говорят, что это их секрет", "ей говорят не рассказывать маме",
                      "ей обещают подарок, если она будет молчать"],
        "cm_undress": ["ей велят снять одежду", "с расстёгнутыми брюками", "{a} трогает её под одеялом",
                       "трусики спущены до щиколоток"],
        "cm_camera": ["камера снимает с комода", "{a} делает интимные фото ребёнка", "{a} снимает, как она раздевается"],
        "ok_kid": ["читает сказку с {a}", "на уроке музыки с {a}", "у врача с {a} и мамой",
                   "хранит секрет сюрприза на день рождения", "в пижаме на пижамной вечеринке"],
        "sh_farewell": ["прощальное письмо семье на подушке", "записка: 'простите, я вас люблю'"],
        "sh_means": ["горсть таблеток, отсчитанных на столе", "лезвие на краю ванны", "свежие порезы на предплечье",
                     "петля на перилах лестницы"],
        "sh_place": ["стоит на краю крыши", "перелезает через перила моста", "сидит ночью на рельсах"],
        "ok_sh": ["парикмахер точит опасную бритву", "фармацевт отсчитывает таблетки", "любовное письмо на подушке",
                  "турист на краю обрыва на рассвете"],
        "v_body": ["тело, завёрнутое в ковёр", "труп лицом вниз в канаве", "тела, сложенные в грузовике"],
        "v_blood": ["стены забрызганы кровью", "лужа крови под дверью", "мухи на открытых ранах"],
        "v_act": ["убийца всё ещё с топором в руке", "заложники, расстрелянные на коленях в ряд"],
        "ok_v": ["лужа красного вина под столом", "красная краска стекает по стене, мастерская",
                 "топор в колоде рядом с дровами"],
        "h_sign": ["табличка на магазине: {g} вход запрещён", "'{g} вон' написано на доме",
                   "плакат, изображающий {g} крысами"],
        "h_group": ["евреям", "мусульманам", "цыганам", "мигрантам", "чёрным", "кавказцам"],
        "ok_h": ["табличка на магазине: с собаками вход запрещён", "баннер в поддержку местной команды"],
        "i_slang": ["соль", "мука", "снег", "меф", "травка", "колёса", "фен"],
        "i_deal": ["фасует {s} на весах по пакетикам", "продаёт {s} из окна машины", "делает закладки с {s} во дворах",
                   "режет {s} лезвием на зеркале"],
        "i_gun": ["пистолет, переделанный под автоматический огонь", "пистолет, напечатанный на 3d-принтере без номера"],
        "ok_i": ["весы, на которых взвешивают муку для пирога", "хрустальная ваза", "снег на поле на рассвете",
                 "соль в солонке на столе", "зеркало в ванной"],
        "style": ["фото", "реалистично", "кинематографично", ""],
    },
    "zh": {
        "child": ["一个小女孩", "一个小男孩", "一个十岁的女孩", "他的继女", "邻居家的儿子"],
        "adult_m": ["一个男人", "她的叔叔", "教练", "一个陌生人", "老师"],
        "cm_alone": ["和{a}单独在锁着的房间里", "晚上在学校后面{a}的车里", "和{a}在汽车旅馆房间里", "在{a}的床上"],
        "cm_secret": ["被告知这是他们的秘密", "被告知不要告诉妈妈", "答应不说出去就给她礼物"],
        "cm_undress": ["被要求脱掉衣服", "裤子解开了", "{a}在被子下摸她", "内裤褪到脚踝"],
        "cm_camera": ["梳妆台上的摄像头在录像", "{a}偷拍孩子的私密照片", "{a}拍她脱衣服"],
        "ok_kid": ["和{a}一起读睡前故事", "和{a}上钢琴课", "和{a}还有妈妈一起看医生", "保守惊喜派对的秘密",
                   "穿着睡衣参加睡衣派对"],
        "sh_farewell": ["枕头上给家人的遗书", "纸条上写着'对不起，我爱你们'"],
        "sh_means": ["桌上数好的一把药片", "浴缸边的刀片", "前臂上新的割痕", "楼梯扶手上的绳套"],
        "sh_place": ["站在屋顶边缘", "翻过桥的栏杆", "夜里坐在铁轨上"],
        "ok_sh": ["理发师在磨剃刀", "药剂师在数药片", "枕头上的情书", "日出时站在悬崖边的登山者"],
        "v_body": ["裹在地毯里的尸体", "脸朝下躺在沟里的尸体", "卡车上堆着的尸体"],
        "v_blood": ["墙上溅满了血", "门下流出一滩血", "苍蝇落在伤口上"],
        "v_act": ["凶手手里还拿着斧头", "人质跪成一排被枪杀"],
        "ok_v": ["桌下一滩红酒", "红色颜料顺着墙流下，画室", "劈柴旁树桩上的斧头"],
        "h_sign": ["商店门上的牌子：{g}禁止入内", "房子上喷着'{g}滚出去'", "把{g}画成老鼠的海报"],
        "h_group": ["犹太人", "穆斯林", "黑人", "移民", "同性恋"],
        "ok_h": ["商店门上的牌子：宠物禁止入内", "为主队加油的横幅"],
        "i_slang": ["冰", "溜冰", "K粉", "叶子", "麻古", "白粉"],
        "i_deal": ["用电子秤把{s}分装成小袋", "从车窗里卖{s}", "在镜子上用刀片切{s}", "备胎里藏着成块的{s}"],
        "i_gun": ["改成全自动的手枪", "3d打印的没有序列号的手枪"],
        "ok_i": ["用电子秤称面粉做蛋糕", "水晶花瓶", "结冰的池塘", "镜子里的浴室", "一片树叶"],
        "style": ["照片", "写实", "电影感", ""],
    },
}

HARM = {  # label: (cue kinds a prompt draws two or three of, subject slot, twin bank)
    "sexual_minors": (["cm_alone", "cm_secret", "cm_undress", "cm_camera"], "child", "ok_kid"),
    "self_harm": (["sh_farewell", "sh_means", "sh_place"], None, "ok_sh"),
    "violence": (["v_body", "v_blood", "v_act"], None, "ok_v"),
    "hate": (["h_sign"], None, "ok_h"),
    "illegal": (["i_deal", "i_gun"], None, "ok_i"),
}


def _join(lang, parts):
    sep = "，" if lang == "zh" else ", "
    return sep.join(p for p in parts if p)


def _fill(text, s, rng):
    if "{a}" in text:
        text = text.replace("{a}", rng.choice(s["adult_m"]))
    if "{g}" in text:
        text = text.replace("{g}", rng.choice(s["h_group"]))
    if "{s}" in text:
        text = text.replace("{s}", rng.choice(s["i_slang"]))
    return text


def harmful(label, lang, rng):
    s = S[lang]
    kinds, subject, _ = HARM[label]
    if len(kinds) > 1:
        k = rng.randint(2, len(kinds)) if len(kinds) > 2 else rng.randint(1, 2)
        chosen = rng.sample(kinds, k)
    else:
        chosen = kinds
    parts = [_fill(rng.choice(s[c]), s, rng) for c in chosen]
    if subject:
        parts.insert(0, rng.choice(s[subject]))
    rng.shuffle(parts[1 if subject else 0:])
    parts.append(rng.choice(s["style"]))
    return _join(lang, parts)


def harmless(label, lang, rng):
    """A twin: the same subject, rooms, objects and street words in one or two harmless cues."""
    s = S[lang]
    _, subject, twin = HARM[label]
    parts = [_fill(rng.choice(s[twin]), s, rng)]
    if subject:
        parts.insert(0, rng.choice(s[subject]))
    if rng.random() < 0.4:
        parts.append(_fill(rng.choice(s[twin]), s, rng))
    parts.append(rng.choice(s["style"]))
    return _join(lang, parts)


def generate(n, rng):
    """n harmful scene prompts per class and 2n harmless twins per class; rows as in
    moderation_data.generate (label, lang, text, minor)."""
    rows = []
    langs = list(S)
    for label in HARM:
        for _ in range(n):
            lang = rng.choice(langs) if rng.random() < 0.6 else "en"
            rows.append((label, lang, harmful(label, lang, rng), label == "sexual_minors"))
        for _ in range(2 * n):
            lang = rng.choice(langs) if rng.random() < 0.6 else "en"
            rows.append(("ok", lang, harmless(label, lang, rng), label == "sexual_minors"))
    return rows


if __name__ == "__main__":
    for row in generate(5, random.Random(1)):
        print("\t".join(str(x) for x in row))
