"""Vocabulary and proportions of the Atlas: project themes, titles, beneficiaries and operators; rates and quotas."""
from __future__ import annotations

# --- vocabulary: projects -----------------------------------------------------------------------

# Theme weights by group of partner country: development themes in Africa and the Maghreb,
# culture, youth and exchanges in Europe, economy and universities in Asia and North America.
THEME_WEIGHTS = {
    "afrique": (
        "eau_assainissement 10 sante 9 education 10 agriculture 9 gouvernance 8 "
        "developpement_economique 5 culture 4 egalite 3 environnement 4 jeunesse 3 "
        "francophonie 3 numerique 1 urbanisme 3 humanitaire 2 social 3 "
        "enseignement_superieur 2 tourisme 1"
    ),
    "maghreb": (
        "gouvernance 7 culture 7 eau_assainissement 6 education 6 "
        "developpement_economique 6 jeunesse 5 urbanisme 4 environnement 4 egalite 3 "
        "tourisme 3 sante 3 enseignement_superieur 3 agriculture 3 social 2 numerique 2"
    ),
    "moyen_orient": (
        "gouvernance 7 culture 7 eau_assainissement 6 education 6 urbanisme 5 sante 4 "
        "jeunesse 5 humanitaire 4 developpement_economique 4 social 3 francophonie 3 "
        "egalite 2"
    ),
    "europe_ouest": (
        "culture 10 jeunesse 10 education 8 developpement_economique 6 tourisme 5 "
        "environnement 5 gouvernance 3 enseignement_superieur 3 social 3 numerique 2 "
        "urbanisme 2 egalite 1 sante 1 francophonie 1"
    ),
    "europe_est": (
        "culture 9 jeunesse 8 education 8 gouvernance 7 developpement_economique 6 "
        "social 5 tourisme 4 environnement 4 agriculture 3 sante 3 francophonie 3 "
        "enseignement_superieur 2 urbanisme 2"
    ),
    "asie": (
        "developpement_economique 9 culture 8 enseignement_superieur 6 urbanisme 6 "
        "tourisme 5 environnement 5 education 5 gouvernance 4 sante 3 "
        "eau_assainissement 3 agriculture 3 francophonie 3 numerique 2"
    ),
    "amerique_nord": (
        "culture 8 developpement_economique 8 jeunesse 6 education 6 "
        "enseignement_superieur 6 tourisme 5 environnement 4 francophonie 4 numerique 3"
    ),
    "amerique_latine": (
        "education 7 agriculture 6 gouvernance 6 culture 6 sante 5 eau_assainissement 5 "
        "urbanisme 4 environnement 4 developpement_economique 4 egalite 3 humanitaire 3 "
        "social 3"
    ),
    "oceanie": (
        "culture 6 environnement 6 education 5 developpement_economique 4 sante 3 "
        "francophonie 4 jeunesse 3"
    ),
}

# Title templates; `{lieu}` is « à Kayes » or « au Mali ».
TITLE_TEMPLATES = {
    "sante": ["Appui au centre de santé {lieu}", "Renforcement des soins de santé primaires {lieu}",
              "Construction et équipement d'une maternité {lieu}", "Partenariat hospitalier et formation des soignants",
              "Prévention du paludisme et accès aux soins {lieu}", "Lutte contre le VIH/sida : sensibilisation et dépistage {lieu}"],
    "education": ["Construction d'une école primaire {lieu}", "Équipement des bibliothèques scolaires {lieu}",
                  "Échanges scolaires entre collèges", "Formation professionnelle des jeunes {lieu}",
                  "Alphabétisation des adultes {lieu}", "Appui à la scolarisation des filles {lieu}"],
    "eau_assainissement": ["Accès à l'eau potable {lieu}", "Réalisation de forages et de puits {lieu}",
                           "Assainissement et gestion des déchets {lieu}", "Création d'un service public de l'eau {lieu}",
                           "Réhabilitation du réseau d'adduction d'eau {lieu}"],
    "agriculture": ["Appui aux groupements maraîchers {lieu}", "Sécurité alimentaire et banques de céréales {lieu}",
                    "Aménagement de périmètres irrigués {lieu}", "Échanges entre lycées agricoles",
                    "Appui aux éleveurs et à la filière lait {lieu}"],
    "culture": ["Échanges culturels et artistiques", "Restauration du patrimoine bâti {lieu}",
                "Résidences croisées d'artistes", "Saison culturelle croisée", "Création d'un centre culturel {lieu}",
                "Festival des jumelages"],
    "developpement_economique": ["Appui aux petites entreprises et à l'artisanat {lieu}", "Mission économique et rencontres d'entreprises",
                                 "Microcrédit et activités génératrices de revenus {lieu}", "Coopération entre chambres consulaires",
                                 "Développement des filières locales {lieu}"],
    "gouvernance": ["Appui à la maîtrise d'ouvrage communale {lieu}", "Modernisation de l'état civil {lieu}",
                    "Formation des élus et agents municipaux {lieu}", "Appui à la fiscalité locale {lieu}",
                    "Décentralisation et gouvernance locale {lieu}"],
    "environnement": ["Plan climat et efficacité énergétique {lieu}", "Électrification solaire {lieu}",
                      "Gestion durable des forêts {lieu}", "Protection du littoral et des zones humides {lieu}",
                      "Reboisement et lutte contre la désertification {lieu}"],
    "urbanisme": ["Élaboration d'un schéma d'aménagement urbain {lieu}", "Réhabilitation de quartiers anciens {lieu}",
                  "Appui au cadastre et à l'adressage {lieu}", "Transports urbains et mobilité {lieu}",
                  "Amélioration de l'habitat {lieu}"],
    "jeunesse": ["Échanges de jeunes {lieu}", "Chantiers de jeunes solidaires {lieu}", "Tournoi sportif du jumelage",
                 "Mobilité internationale des jeunes", "Construction d'un terrain de sport {lieu}"],
    "tourisme": ["Développement du tourisme solidaire {lieu}", "Promotion touristique croisée",
                 "Création d'un office de tourisme {lieu}", "Valorisation des sites naturels {lieu}"],
    "humanitaire": ["Aide d'urgence aux sinistrés {lieu}", "Reconstruction d'équipements publics {lieu}",
                    "Soutien aux populations déplacées {lieu}", "Aide alimentaire d'urgence {lieu}"],
    "francophonie": ["Promotion de la langue française {lieu}", "Création d'une médiathèque francophone {lieu}",
                     "Formation d'enseignants de français {lieu}"],
    "egalite": ["Autonomisation économique des femmes {lieu}", "Appui aux associations de femmes {lieu}",
                "Lutte contre les violences faites aux femmes {lieu}"],
    "numerique": ["Création d'un espace public numérique {lieu}", "Informatisation des services municipaux {lieu}",
                  "Réduction de la fracture numérique {lieu}"],
    "enseignement_superieur": ["Partenariat universitaire et mobilité étudiante", "Coopération entre universités et centres de recherche",
                               "Bourses d'études et accueil d'étudiants"],
    "social": ["Appui aux personnes âgées et handicapées {lieu}", "Insertion sociale des enfants des rues {lieu}",
               "Création d'un centre social {lieu}"],
}

THEME_SENTENCES = {
    "sante": "Il vise à améliorer l'accès aux soins et la formation des personnels de santé.",
    "education": "Il vise à améliorer les conditions de scolarisation et la formation des jeunes.",
    "eau_assainissement": "Il est financé en partie au titre de la loi Oudin-Santini (1 % eau et assainissement).",
    "agriculture": "Il soutient les producteurs locaux et la sécurité alimentaire des familles.",
    "culture": "Il favorise la connaissance mutuelle par des échanges culturels réguliers.",
    "developpement_economique": "Il accompagne les acteurs économiques et la création d'emplois.",
    "gouvernance": "Il renforce les capacités de la collectivité partenaire à exercer ses compétences.",
    "environnement": "Il contribue à la transition énergétique et à la préservation des ressources.",
    "urbanisme": "Il appuie la planification urbaine et l'amélioration du cadre de vie.",
    "jeunesse": "Il permet à des jeunes des deux territoires de se rencontrer et de monter des projets communs.",
    "tourisme": "Il valorise le patrimoine et développe un tourisme respectueux des populations.",
    "humanitaire": "Il répond à une situation d'urgence en lien avec les autorités locales.",
    "francophonie": "Il soutient l'usage du français et les échanges entre francophones.",
    "egalite": "Il soutient l'accès des femmes aux responsabilités et aux revenus.",
    "numerique": "Il facilite l'accès aux outils numériques des habitants et des services publics.",
    "enseignement_superieur": "Il développe la mobilité des étudiants et des chercheurs.",
    "social": "Il renforce l'accompagnement des publics les plus vulnérables.",
}

BENEFICIARIES = {
    "sante": ["Populations de la commune partenaire", "Femmes enceintes et jeunes enfants", "Personnels soignants"],
    "education": ["Élèves des écoles primaires", "Enseignants", "Jeunes de 15 à 25 ans"],
    "eau_assainissement": ["Habitants des quartiers non desservis", "Villages de la commune partenaire", "Écoles et centres de santé"],
    "agriculture": ["Groupements de producteurs", "Femmes maraîchères", "Éleveurs"],
    "gouvernance": ["Élus et agents de la collectivité partenaire", "Services techniques municipaux"],
    "jeunesse": ["Jeunes des deux collectivités", "Clubs sportifs", "Lycéens"],
    "egalite": ["Associations de femmes", "Femmes entrepreneures"],
    "humanitaire": ["Familles sinistrées", "Populations déplacées"],
}
DEFAULT_BENEFICIARIES = ["Habitants des deux territoires", "Associations locales", "Acteurs du territoire partenaire"]

OPERATORS = {
    "sante": ["Centre hospitalier de {ville}", "Association de solidarité santé de {ville}"],
    "education": ["Lycée professionnel de {ville}", "Collège de {ville}", "Association des parents d'élèves"],
    "eau_assainissement": ["{agence}", "Syndicat des eaux de la région de {ville}", "Régie des eaux de {ville}"],
    "agriculture": ["Lycée agricole de {ville}", "Chambre d'agriculture", "Association de producteurs"],
    "culture": ["Comité de jumelage de {ville}", "Conservatoire de {ville}", "Médiathèque de {ville}"],
    "developpement_economique": ["Chambre de commerce et d'industrie", "Chambre de métiers et de l'artisanat", "Club d'entreprises de {ville}"],
    "gouvernance": ["Services municipaux de {ville}", "Centre de gestion de la fonction publique territoriale"],
    "environnement": ["Agence locale de l'énergie", "Association de protection de la nature de {ville}"],
    "urbanisme": ["Agence d'urbanisme de {ville}", "Services techniques de {ville}"],
    "jeunesse": ["Comité de jumelage de {ville}", "Office municipal des sports de {ville}", "Mission locale de {ville}"],
    "tourisme": ["Office de tourisme de {ville}"],
    "humanitaire": ["Service départemental d'incendie et de secours", "Collectif d'associations de solidarité internationale"],
    "enseignement_superieur": ["Université de {ville}", "École d'ingénieurs de {ville}"],
    "social": ["Centre communal d'action sociale de {ville}"],
}
DEFAULT_OPERATORS = ["Comité de jumelage de {ville}", "Association de solidarité internationale de {ville}", "Maison des associations de {ville}"]

# Water agency of each metropolitan région's main basin (the Oudin-Santini law's usual co-funder).
WATER_AGENCIES = {
    "11": "Agence de l'eau Seine-Normandie", "28": "Agence de l'eau Seine-Normandie",
    "24": "Agence de l'eau Loire-Bretagne", "52": "Agence de l'eau Loire-Bretagne", "53": "Agence de l'eau Loire-Bretagne",
    "27": "Agence de l'eau Rhône-Méditerranée-Corse", "84": "Agence de l'eau Rhône-Méditerranée-Corse",
    "93": "Agence de l'eau Rhône-Méditerranée-Corse", "94": "Agence de l'eau Rhône-Méditerranée-Corse",
    "32": "Agence de l'eau Artois-Picardie", "44": "Agence de l'eau Rhin-Meuse",
    "75": "Agence de l'eau Adour-Garonne", "76": "Agence de l'eau Adour-Garonne",
}
# Départements along the Latin arc (Mediterranean coast and hinterland), members of Arc Latin.
ARC_LATIN_DEPS = ("04", "05", "06", "11", "13", "2A", "2B", "30", "34", "66", "83", "84")
COASTAL_REGIONS = ("28", "32", "52", "53", "75", "76", "93", "94", "01", "02", "03", "04", "06")

# Shares chosen to look like the Atlas; see the module docstring of the figures they produce.
STATUS_WEIGHTS = (("en_cours", 58), ("termine", 28), ("en_sommeil", 14))
ACTION_SHARE = 0.8  # actions per action project: most external actions have a single sheet
ACTION_PARTNER_RATE = 0.55  # external actions often have no named partner authority
NO_EMAIL_RATE = 0.025  # of the contacts after the first, outside the unreachable collectivités
NO_ADDRESS_RATE = 0.02
APD_YEARS = (2007, 2008, 2009, 2010)
APD_2010_MISSING_RATE = 0.25  # « si le champ 2010 est vierge, la collectivité n'a pas télédéclaré »
CONTACT_DOMAIN_SUFFIX = ".example.fr"
EPCI_SELECTION_FACTOR = {"METRO": 40.0, "MET69": 40.0, "CU": 25.0, "CA": 4.0, "CC": 1.0}
EPCI_ACTIVITY = {"METRO": 2.5, "MET69": 3.0, "CU": 1.5, "CA": 0.6, "CC": 0.3}
# How many of each kind are in the Atlas at scale 1: every metropolitan and DROM région, most
# départements, the intercommunalities that cooperate; communes make up the rest.
KIND_QUOTAS = {"region": 18, "departement": 86, "epci": 170}
COMMUNE_WEIGHT_EXPONENT = 1.0  # selection weight population**x: almost every big city is engaged
COOPERATIONS_PER_PARTNER = 1.13  # a foreign partner is sometimes shared by several French collectivités
