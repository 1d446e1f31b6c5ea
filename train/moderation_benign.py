"""Harmless prompts for the moderation classifier's training (train/moderation_data.py): the
broad run of what people ask an image model for, so that the classifier learns what ordinary
looks like and refuses only what it has reason to. Includes harmless uses of words that also
occur in harmful prompts (knives in kitchens, history's battles, medicine, swimwear, idioms)."""

SUBJECTS_EN = """a red apple|a bowl of fruit|a steaming cup of coffee|a stack of pancakes|a birthday cake|a loaf of
bread|a sushi platter|a pizza fresh from the oven|a glass of orange juice|a blood orange cut open|a lemon tart|a farmers
market|a vintage car|a sports car on a coastal road|a red bicycle|a steam locomotive|a sailing boat|a cargo ship|a hot
air balloon|a fighter jet at an air show|a helicopter over a city|a space shuttle launch|an astronaut on the moon|a
robot in a workshop|a cyberpunk street|a medieval castle|a lighthouse in a storm|a wooden cabin|a japanese temple|a
gothic cathedral|a glass skyscraper|a suspension bridge|a small village|a busy train station|a library full of
books|a cozy living room|a modern kitchen|a child's bedroom with toys|a garden with roses|a field of sunflowers|a
snowy mountain|a waterfall in a jungle|a desert with dunes|a tropical beach|a coral reef|a volcano erupting|a
thunderstorm over the plains|a rainbow after rain|the northern lights|a full moon|a galaxy|a nebula|a black hole|a
comet|a fox in the snow|a sleeping cat|a golden retriever puppy|a horse in a meadow|an owl on a branch|a humpback
whale|a shark in the deep sea|an octopus|a tiger in tall grass|a lion resting|an elephant family|a panda eating
bamboo|a flock of birds|a butterfly on a flower|a dragon made of clouds|a unicorn|a wizard casting a spell|an elf
archer|a knight in armour|a pirate ship|a samurai at dawn|a viking longship|a roman legionary|an egyptian
pyramid|a greek temple|a dinosaur skeleton in a museum|a t-rex in a forest|an old map|a treasure chest|a chess
board|a deck of cards|a violin|a grand piano|a rock band on stage|a jazz club|a ballerina|a street dancer|a
painter at an easel|a potter at the wheel|a blacksmith forging a sword|a chef plating a dish|a barista|a farmer on
a tractor|a fisherman at sea|a firefighter|a nurse in a hospital corridor|a doctor with a stethoscope|a scientist
in a lab|a teacher at a blackboard|a librarian|a postman|a pilot in a cockpit|an old man reading a newspaper|an
elderly couple holding hands|a mother and her baby|a father carrying his son on his shoulders|a grandmother
knitting|twins on a swing|a family at the dinner table|a couple on a bench|friends at a campfire|a wedding
ceremony|a graduation day|a marathon runner|a tennis player serving|a basketball dunk|a soccer goalkeeper|a
surfer on a big wave|a skier on a slope|a rock climber|a cyclist in the mountains|a boxer training|a fencing
match|a sumo wrestler|a swimmer doing the breaststroke|an olympic diver|a yoga class|a gym with weights|a
kitchen knife on a cutting board|a butcher cutting meat|a hunter's cabin with antlers|an antique musket in a
museum|a toy water gun|a bow and arrow target practice|a medieval sword on display|a tank in a war museum|a
battlefield painting from the napoleonic wars|a world war two memorial|soldiers marching in a parade|a cannon
at a fort|fireworks over a harbour|a bomb-shaped piñata|a firecracker|a volcano model for a science fair|a
chemistry set|a pharmacy with medicine bottles|a vaccine vial|an x-ray of a hand|a skeleton model in a
classroom|a heart anatomy poster|a surgeon in scrubs|a dentist's chair|a blood donation center|a red cross
tent|a hospital at night|a funeral with flowers|a cemetery in autumn|a ghost costume|a haunted house|a
jack-o'-lantern|a zombie costume party|a vampire castle|a witch's cauldron|a skull-shaped candle|a day of the
dead altar|a scarecrow|a spider web with dew|a snake in the grass|a scorpion in the desert|a wasp nest|a mouse
in a barn|a rat in a city alley|a pig on a farm|a cow grazing|a chicken coop|roast chicken|chicken breast with
salad|a steak dinner|a glass of red wine|a cocktail bar|a beer garden|a cigar lounge|a tea ceremony|a picnic
basket|an ice cream cone|a lollipop|a gingerbread house|a christmas tree|a menorah|a diwali lamp|an easter
egg hunt|a lantern festival|a carnival parade|a mardi gras mask|a circus tent|a magician|a clown|a puppet
show|a toy train|a teddy bear|a lego castle|a rubber duck|a dollhouse|a kite in the sky|a paper boat|a
sandcastle|a snowman|a swimming pool|a waterpark|a playground|a school bus|a classroom with desks|a school
science fair|a children's book about a brave rabbit|a cartoon of a happy dinosaur|a picture book about the
moon|a lullaby illustration|a baby in a stroller|a toddler stacking blocks|kids building a fort|a boy flying
a drone|a girl with a balloon|teenagers at a skate park|students in a lecture hall|a nude color palette|nude
heels|nude lipstick|the naked eye|a naked mole rat|a shooting star|the milky way|kill the lights|a killer
whale|a killer sunset|a bloody mary|a sex pistols record|the sexton of a church|a cockpit|a cocktail|a
weapon in a video game inventory|a laser tag arena|a paintball match|a fencing sword|a dart board|an axe
throwing bar|a lumberjack chopping wood|a police car|a prison museum|a courtroom|a judge's gavel|a detective
with a magnifying glass|a crime novel cover|a mystery book|a spy in a trench coat|a heist movie poster|a
western showdown|a cowboy on a horse|a bull rider|a matador painting|a hunting dog|a fishing trip|a statue of
david|the venus de milo|a renaissance painting|a baroque ceiling fresco|an impressionist garden|a cubist
portrait|pop art|street graffiti|a stained glass window|a mosaic|a tapestry|an origami crane|a watercolor
landscape|a pencil sketch|an ink drawing|a charcoal portrait|a pixel art castle|a low poly fox|a 3d render of
a house|an isometric city|a logo of a coffee shop|a minimalist poster|a wedding invitation|a birthday card|a
book cover|an album cover|a movie poster|a comic strip|a manga panel|an anime girl with a sword|an anime boy
in a school uniform|a superhero flying|a villain's lair|a heroine in armour|a princess in a castle|a prince on
a white horse|a fairy in the woods|a mermaid|a centaur|a phoenix|a griffin|a sea monster|a kraken attacking a
ship, fantasy art|a dragon breathing fire|an epic battle between wizards|a spaceship battle|a laser
sword duel|a mech robot|a post-apocalyptic city|a flooded city|an abandoned factory|a rusty car|a
junkyard|a storm at sea|a tornado|a wildfire in the distance|smoke from a chimney|a steam train|an oil
rig|a methane flare|a power plant|a wind farm|solar panels|a data center|a circuit board|a smartphone|a
laptop on a desk|a gaming setup|a vinyl record player|a camera|a typewriter|an hourglass|a compass|a globe|a
telescope|a microscope|a bonsai tree|a cactus|a fern|a mushroom|a pine forest|an autumn leaf|a cherry
blossom|a lotus pond|a zen garden|a waterfall|a river delta|a glacier|an iceberg|a penguin colony|a polar
bear|a reindeer|a camel caravan|a safari jeep|a hot spring|a sauna|a spa|a massage table|a hairdresser|a
barber shop|a tattoo studio|a makeup tutorial|a fashion show|a model in an evening gown|a man in a suit|a
woman in a summer dress|a bride|a groom|a swimsuit catalogue|a beach volleyball game|a lifeguard tower|a
sunbather on a lounger|a couple dancing salsa|a romantic dinner|a kiss under the mistletoe|a love letter|a
heart-shaped box of chocolates|a valentine's card|a teddy bear holding a heart|a self portrait in oils|a
selfie at the beach|a self-driving car|a self-checkout at a supermarket|a self-help book cover|a self-made
entrepreneur|a self-service kiosk|a self-portrait of a robot|a painter's self portrait|self-care morning routine|a
cut-out paper snowflake|a haircut at a barber|a cutting board with bread|a film shoot on set|a photo shoot in a
studio|a shooting range for archery|a gunmetal grey car|a bomber jacket|a dead tree in the desert|a dead end
sign|a killer app on a phone|a drop-dead gorgeous gown|a deadline on a calendar|an execution plan on a
whiteboard|a hit song on the radio|a punch bowl at a party|a knockout in a boxing game|a battle of the bands|a
bloodhound dog|a blood moon eclipse|a spider-man costume|a batman poster|a gunslinger in a western movie|a
hangman game on paper|a clothes hanger|a hanging garden|a drug store sign|a poison dart frog|a poison ivy
leaf|a power bank charger|a kid goat on a farm|a child's drawing of a house|a minor chord on a guitar|a teen
movie poster from the eighties|a baby shower|a little boy's birthday party with balloons|an adult coloring
book|an adult education class|a kitchen knife next to an onion|a chef's knife set|a knife block on a
counter|slicing bread with a knife|a butter knife on a plate|a pocket knife for camping|a cook cutting
carrots|tomatoes and basil on a board|a razor and shaving foam|a barber's straight razor|scissors cutting
fabric|a sewing needle and thread|a bottle of pills on a pharmacy shelf, product photo|vitamins on a
table|a first aid kit|a rope swing over a lake|a rope bridge in the jungle|a bridge over a river at
night|a rooftop garden|a tall building at dusk|a cliff overlooking the sea|a high dive platform|a white
wedding dress|white power lines against the sky|a white horse|a black cat|an antique hand gun in a glass
case|a sheriff's badge""".replace("\n", " ").split("|")

ADJ_EN = ["beautiful", "tiny", "giant", "ancient", "futuristic", "colorful", "dark", "bright", "cozy", "lonely",
          "happy", "mysterious", "majestic", "cute", "rustic", "elegant", "abandoned", "glowing", "frozen",
          "misty", "golden", "vintage", "minimalist", "surreal", "whimsical", "dramatic", "peaceful", "epic"]
SETTING_EN = ["at sunset", "at night", "in the rain", "in winter", "in spring", "under the stars", "in the fog",
              "on a sunny day", "in a city", "in the countryside", "by the sea", "in the mountains", "indoors",
              "in space", "underwater", "in a dream", "in the 1920s", "in the future", ""]
STYLE = ["oil painting", "watercolor", "photorealistic", "studio photo", "35mm film", "digital art", "pixel art",
         "3d render", "anime style", "pencil sketch", "concept art", "isometric", "ukiyo-e", "art nouveau",
         "cinematic", "macro photo", "vector illustration", "low poly", "claymation", "children's book style",
         "8k", "hdr", "bokeh", "wide angle", ""]

SUBJECTS = {
    "es": """una manzana roja|un pastel de cumpleaños|una taza de café|un coche antiguo|un barco de vela|un castillo
medieval|un faro en la tormenta|una cabaña de madera|una catedral gótica|un puente colgante|un pueblo pequeño|una
biblioteca|un jardín con rosas|un campo de girasoles|una montaña nevada|una cascada|un desierto|una playa
tropical|un volcán|un arcoíris|la luna llena|una galaxia|un zorro en la nieve|un gato dormido|un cachorro|un
caballo|un búho|una ballena|un tigre|un elefante|un dragón|un mago|un caballero|un barco pirata|un samurái|una
pirámide|un violín|un piano|una bailarina|un pintor|un chef|un médico|una enfermera|un científico|una
maestra|una familia cenando|una boda|un corredor de maratón|un surfista|un esquiador|un boxeador|un cuchillo de
cocina|un museo de guerra|una farmacia|una calavera de azúcar|un disfraz de fantasma|una casa embrujada|un
cementerio en otoño|una corrida de toros|un cóctel|una copa de vino|un árbol de navidad|un desfile de
carnaval|un payaso|un oso de peluche|un parque infantil|un autobús escolar|un cuento infantil|una estrella
fugaz|un cuadro renacentista|un mural de grafiti|una vidriera|un robot|una nave espacial|una ciudad
futurista""",
    "fr": """une pomme rouge|un gâteau d'anniversaire|une tasse de café|une voiture ancienne|un voilier|un château
médiéval|un phare dans la tempête|un chalet en bois|une cathédrale gothique|un pont suspendu|un petit
village|une bibliothèque|un jardin de roses|un champ de tournesols|une montagne enneigée|une cascade|un
désert|une plage tropicale|un volcan|un arc-en-ciel|la pleine lune|une galaxie|un renard dans la neige|un
chat endormi|un chiot|un cheval|un hibou|une baleine|un tigre|un éléphant|un dragon|un magicien|un
chevalier|un bateau pirate|un samouraï|une pyramide|un violon|un piano|une danseuse étoile|un peintre|un
chef cuisinier|un médecin|une infirmière|un scientifique|une institutrice|un repas de famille|un mariage|un
marathonien|un surfeur|un skieur|un boxeur|un couteau de cuisine|un musée de la guerre|une pharmacie|un
costume de fantôme|une maison hantée|un cimetière en automne|un cocktail|un verre de vin|un sapin de
noël|un défilé de carnaval|un clown|un ours en peluche|une aire de jeux|un bus scolaire|un livre pour
enfants|une étoile filante|un tableau de la renaissance|un robot|un vaisseau spatial|une ville futuriste""",
    "de": """ein roter Apfel|eine Geburtstagstorte|eine Tasse Kaffee|ein Oldtimer|ein Segelboot|eine
mittelalterliche Burg|ein Leuchtturm im Sturm|eine Holzhütte|eine gotische Kathedrale|eine Hängebrücke|ein
kleines Dorf|eine Bibliothek|ein Rosengarten|ein Sonnenblumenfeld|ein verschneiter Berg|ein Wasserfall|eine
Wüste|ein tropischer Strand|ein Vulkan|ein Regenbogen|der Vollmond|eine Galaxie|ein Fuchs im Schnee|eine
schlafende Katze|ein Welpe|ein Pferd|eine Eule|ein Wal|ein Tiger|ein Elefant|ein Drache|ein Zauberer|ein
Ritter|ein Piratenschiff|ein Samurai|eine Pyramide|eine Geige|ein Klavier|eine Ballerina|ein Maler|ein
Koch|eine Ärztin|eine Krankenschwester|ein Wissenschaftler|eine Lehrerin|ein Familienessen|eine Hochzeit|ein
Marathonläufer|ein Surfer|ein Skifahrer|ein Boxer|ein Küchenmesser|ein Kriegsmuseum|eine Apotheke|ein
Gespensterkostüm|ein Spukhaus|ein Friedhof im Herbst|ein Cocktail|ein Glas Wein|ein Weihnachtsbaum|ein
Karnevalsumzug|ein Clown|ein Teddybär|ein Spielplatz|ein Schulbus|ein Kinderbuch|eine Sternschnuppe|ein
Renaissancegemälde|ein Roboter|ein Raumschiff|eine futuristische Stadt""",
    "pt": """uma maçã vermelha|um bolo de aniversário|uma xícara de café|um carro antigo|um veleiro|um castelo
medieval|um farol na tempestade|uma cabana de madeira|uma catedral gótica|uma ponte|uma pequena aldeia|uma
biblioteca|um jardim de rosas|um campo de girassóis|uma montanha nevada|uma cachoeira|um deserto|uma praia
tropical|um vulcão|um arco-íris|a lua cheia|uma galáxia|uma raposa na neve|um gato dormindo|um
filhote|um cavalo|uma coruja|uma baleia|um tigre|um elefante|um dragão|um mago|um cavaleiro|um navio
pirata|uma pirâmide|um violino|um piano|uma bailarina|um pintor|um chef|um médico|uma enfermeira|um
cientista|uma professora|um jantar em família|um casamento|um maratonista|um surfista|um boxeador|uma faca
de cozinha|um museu de guerra|uma farmácia|uma casa assombrada|um cemitério no outono|um coquetel|uma
taça de vinho|uma árvore de natal|um desfile de carnaval|um palhaço|um ursinho de pelúcia|um parquinho|um
ônibus escolar|um livro infantil|uma estrela cadente|um robô|uma nave espacial""",
    "it": """una mela rossa|una torta di compleanno|una tazza di caffè|un'auto d'epoca|una barca a vela|un castello
medievale|un faro nella tempesta|una baita di legno|una cattedrale gotica|un ponte sospeso|un piccolo
villaggio|una biblioteca|un giardino di rose|un campo di girasoli|una montagna innevata|una cascata|un
deserto|una spiaggia tropicale|un vulcano|un arcobaleno|la luna piena|una galassia|una volpe nella
neve|un gatto che dorme|un cucciolo|un cavallo|un gufo|una balena|una tigre|un elefante|un drago|un
mago|un cavaliere|una nave pirata|una piramide|un violino|un pianoforte|una ballerina|un pittore|uno
chef|un medico|un'infermiera|uno scienziato|una maestra|una cena in famiglia|un matrimonio|un
maratoneta|un surfista|un pugile|un coltello da cucina|un museo della guerra|una farmacia|una casa
stregata|un cimitero in autunno|un cocktail|un bicchiere di vino|un albero di natale|una sfilata di
carnevale|un clown|un orsacchiotto|un parco giochi|uno scuolabus|un libro per bambini|una stella
cadente|un robot|un'astronave""",
    "ru": """красное яблоко|праздничный торт|чашка кофе|старинный автомобиль|парусник|средневековый замок|маяк в
шторм|деревянный домик|готический собор|подвесной мост|маленькая деревня|библиотека|сад с розами|поле
подсолнухов|снежная гора|водопад|пустыня|тропический пляж|вулкан|радуга|полная луна|галактика|лиса в
снегу|спящий кот|щенок|лошадь|сова|кит|тигр|слон|дракон|волшебник|рыцарь|пиратский корабль|пирамида|скрипка|рояль|балерина|художник|повар|врач|медсестра|учёный|учительница|семейный
ужин|свадьба|марафонец|серфер|боксёр|кухонный нож|военный музей|аптека|дом с привидениями|кладбище
осенью|коктейль|бокал вина|новогодняя ёлка|карнавал|клоун|плюшевый мишка|детская площадка|школьный
автобус|детская книга|падающая звезда|робот|космический корабль""",
    "zh": """红苹果|生日蛋糕|一杯咖啡|老爷车|帆船|中世纪城堡|暴风雨中的灯塔|木屋|哥特式大教堂|吊桥|小村庄|图书馆|玫瑰花园|向日葵田|雪山|瀑布|沙漠|热带海滩|火山|彩虹|满月|银河|雪地里的狐狸|睡觉的猫|小狗|马|猫头鹰|鲸鱼|老虎|大象|龙|魔法师|骑士|海盗船|金字塔|小提琴|钢琴|芭蕾舞者|画家|厨师|医生|护士|科学家|老师|家庭晚餐|婚礼|马拉松选手|冲浪者|拳击手|菜刀|战争博物馆|药店|鬼屋|秋天的墓地|鸡尾酒|一杯红酒|圣诞树|嘉年华|小丑|泰迪熊|游乐场|校车|儿童绘本|流星|机器人|宇宙飞船""",
}

ADJ = {
    "es": ["hermoso", "antiguo", "futurista", "colorido", "mágico", "tranquilo"],
    "fr": ["magnifique", "ancien", "futuriste", "coloré", "magique", "paisible"],
    "de": ["wunderschön", "uralt", "futuristisch", "bunt", "magisch", "friedlich"],
    "pt": ["lindo", "antigo", "futurista", "colorido", "mágico", "tranquilo"],
    "it": ["bellissimo", "antico", "futuristico", "colorato", "magico", "tranquillo"],
    "ru": ["красивый", "древний", "футуристический", "яркий", "волшебный", "спокойный"],
    "zh": ["美丽的", "古老的", "未来的", "彩色的", "神奇的", "宁静的"],
}
SETTING = {
    "es": ["al atardecer", "de noche", "bajo la lluvia", "en invierno", ""],
    "fr": ["au coucher du soleil", "la nuit", "sous la pluie", "en hiver", ""],
    "de": ["bei Sonnenuntergang", "bei Nacht", "im Regen", "im Winter", ""],
    "pt": ["ao pôr do sol", "à noite", "na chuva", "no inverno", ""],
    "it": ["al tramonto", "di notte", "sotto la pioggia", "d'inverno", ""],
    "ru": ["на закате", "ночью", "под дождём", "зимой", ""],
    "zh": ["日落时", "夜晚", "雨中", "冬天", ""],
}


def benign(lang, rng):
    """One harmless prompt in a language."""
    if lang == "en":
        subj = rng.choice(SUBJECTS_EN).strip()
        parts = [subj]
        if rng.random() < 0.3:
            parts[0] = rng.choice(ADJ_EN) + " " + subj.split(" ", 1)[-1] if subj.startswith(("a ", "an ")) else subj
        if rng.random() < 0.5:
            parts.append(rng.choice(SETTING_EN))
        text = " ".join(p for p in parts if p)
        if rng.random() < 0.6:
            text += ", " + rng.choice(STYLE)
        return text.strip(" ,")
    subj = rng.choice(SUBJECTS[lang].replace("\n", " ").split("|")).strip()
    if lang == "zh":
        text = (rng.choice(ADJ[lang]) if rng.random() < 0.3 else "") + subj + rng.choice(SETTING[lang])
    else:
        text = subj + (" " + rng.choice(SETTING[lang]) if rng.random() < 0.5 else "")
    if rng.random() < 0.4:
        text += ", " + rng.choice(STYLE)
    return text.strip(" ,")


# Plain requests: a short frame around an ordinary subject ("picture of a man", "a flag, high quality"). The
# classifier had learned "photo" and a person from the harmful templates and refused plain requests for a man, a
# girl, a soldier or a flag (moderation/eval/plain.tsv, whose frames and subject lists are other than these).
PLAIN_FRAMES = {
    "en": ["picture of {}", "an illustration of {}", "{}, high quality", "{}, photorealistic", "a shot of {}",
           "{} outdoors", "{} in the kitchen", "generate {}", "create an image of {}", "{}, 50mm", "selfie of {}",
           "a sketch of {}", "{} in the snow", "{} on a sunny afternoon", "image: {}", "show me {}", "{} walking",
           "{} by the window", "a close portrait of {}", "{} reading a book", "{}, soft light", "{} at the market",
           "an oil painting of {}", "{}, full body", "{} laughing", "please draw {}", "{}, award winning photo"],
    "es": ["imagen de {}", "{} en la calle", "una ilustración de {}", "{}, alta calidad", "pinta {}", "{} riendo",
           "haz una foto de {}", "{} en la cocina"],
    "fr": ["image de {}", "{} dans la rue", "une illustration de {}", "{}, haute qualité", "dessine {}", "{} qui rit",
           "fais une photo de {}", "{} dans la cuisine"],
    "de": ["Bild von {}", "{} auf der Straße", "eine Illustration: {}", "{}, hohe Qualität", "zeichne {}",
           "{} lacht", "mach ein Foto: {}", "{} in der Küche"],
    "pt": ["imagem de {}", "{} na rua", "uma ilustração de {}", "{}, alta qualidade", "desenhe {}", "{} rindo",
           "faça uma foto de {}", "{} na cozinha"],
    "it": ["immagine di {}", "{} per strada", "un'illustrazione di {}", "{}, alta qualità", "disegna {}",
           "{} che ride", "fai una foto di {}", "{} in cucina"],
    "ru": ["изображение: {}", "{} на улице", "иллюстрация: {}", "{}, высокое качество", "нарисуй: {}",
           "{} смеётся", "сделай фото: {}", "{} на кухне"],
    "zh": ["{}的图片", "街上的{}", "{}的插画", "{}，高清", "画{}", "笑着的{}", "拍一张{}", "厨房里的{}"],
}
PLAIN_SUBJECTS = {
    "en": """a young woman|a young man|an elderly couple|a girl with pigtails|a boy with a kite|a teenage boy|a
schoolgirl with a backpack|a newborn|a kid|two kids|a grandfather|a grandmother|a bride|a groom|a businessman|a
businesswoman|a gay man|two men holding hands|two women holding hands|a transgender man|a drag queen|a woman in a
headscarf|an orthodox jew|a sikh man in a turban|a black woman|an african family|a chinese grandmother|a indian
bride|a latino boy|an arab man|a native american elder|a refugee family|a crowd at a concert|people at a
festival|a marching band|an army officer|a sailor|a pilot|a cop|a security guard|a judge|a lawyer|a pastor|a monk|a
rabbi|an imam|a dentist|a paramedic|a midwife|a coach|a referee|a swimmer|a gymnast|a sumo wrestler|a fisherman|a
farmer|a chef with a cleaver|a tattoo artist|a model|a fashion model|a dancer|a singer|a stripe-shirted
mime|a flag pole|the american flag|a pirate flag|a flag on the moon|a parade banner|a street sign|a stop sign|a
billboard|a poster|a mural|a body builder|a torso of a statue|legs of a table|a leg of lamb|a foot bath|a chest of
drawers|a breast of chicken|a rope bridge|a ladder|a tall tower|a chimney|a window|a balcony|a bathroom|a
bathtub full of bubbles|a hotel room|a dorm room|a prison cell in a museum|a castle dungeon|a police car|a
fire truck|an ambulance|a hospital|a pharmacy|a medicine cabinet|a beer|a cocktail|a joint of meat|a pipe
organ|a smoking chimney|a shot glass|a blade of grass|a sword in a museum|an axe in a log|a hammer|a saw|scissors|a
razor|a needle and thread|a pumpkin|a watermelon|a hot pepper|a cherry pie|a dog on a leash|a puppy|a kitten|a
rooster|a goat|a donkey|a parrot|a monkey in a tree|a black cat|a black horse|a white horse|a black and white
photo of a city|a zebra|a chimpanzee|a bat|a crow|a shark|a wolf|a bear""".replace("\n", " ").split("|"),
    "es": ["una chica", "un chico", "un señor mayor", "una señora", "un niño pequeño", "una niña pequeña",
           "mi hermano", "mi madre", "un policía", "un militar", "una bandera de España", "una pancarta",
           "una pareja de hombres", "una mujer con velo", "un perro", "un caballo negro", "un mono", "una soga",
           "un puente colgante", "un cuchillo", "un hospital", "una cárcel antigua", "una multitud en la plaza"],
    "fr": ["une jeune femme", "un jeune homme", "un vieil homme", "une vieille dame", "un petit garçon",
           "une fillette", "mon frère", "ma mère", "un policier", "un militaire", "le drapeau français",
           "une banderole", "deux hommes main dans la main", "une femme voilée", "un chien", "un cheval noir",
           "un singe", "une échelle", "un pont suspendu", "un couteau", "un hôpital", "une vieille prison"],
    "de": ["eine junge Frau", "ein junger Mann", "ein alter Mann", "eine alte Frau", "ein kleiner Junge",
           "ein Kind", "mein Bruder", "meine Mutter", "ein Polizist", "ein Offizier", "die deutsche Flagge",
           "ein Transparent", "zwei Männer Hand in Hand", "eine Frau mit Kopftuch", "ein Hund", "ein schwarzes Pferd",
           "ein Affe", "eine Leiter", "eine Hängebrücke", "ein Messer", "ein Krankenhaus", "ein altes Gefängnis"],
    "pt": ["uma moça", "um rapaz", "um senhor idoso", "uma senhora", "um menino pequeno", "uma criança",
           "meu irmão", "minha mãe", "um policial", "um militar", "a bandeira do Brasil", "uma faixa",
           "dois homens de mãos dadas", "uma mulher de véu", "um cachorro", "um cavalo preto", "um macaco",
           "uma escada", "uma ponte pênsil", "uma faca", "um hospital", "uma prisão antiga"],
    "it": ["una giovane donna", "un giovane uomo", "un anziano", "un'anziana", "un bambino piccolo", "una bimba",
           "mio fratello", "mia madre", "un poliziotto", "un militare", "la bandiera italiana", "uno striscione",
           "due uomini mano nella mano", "una donna con il velo", "un cane", "un cavallo nero", "una scimmia",
           "una scala", "un ponte sospeso", "un coltello", "un ospedale", "una vecchia prigione"],
    "ru": ["молодая женщина", "молодой человек", "старик", "бабушка", "маленький мальчик", "ребёнок", "мой брат",
           "моя мама", "полицейский", "офицер", "российский флаг", "транспарант", "двое мужчин за руку",
           "женщина в платке", "собака", "чёрный конь", "обезьяна", "лестница", "подвесной мост", "нож",
           "больница", "старая тюрьма"],
    "zh": ["年轻女人", "年轻男人", "老爷爷", "老奶奶", "小孩", "小朋友", "我的哥哥", "我的妈妈", "警察", "军官",
           "中国国旗", "横幅", "两个男人牵手", "戴头巾的女人", "小狗", "黑马", "猴子", "梯子", "吊桥", "刀",
           "医院", "老监狱", "广场上的人群"],
}


def plain(lang, rng):
    """One plain request: a short frame around an ordinary subject."""
    subj = rng.choice(PLAIN_SUBJECTS[lang]).strip()
    return rng.choice(PLAIN_FRAMES[lang]).format(subj)
