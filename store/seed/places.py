"""Vocabulary: foreign place names, built from syllable families per language, and real partner places."""
from __future__ import annotations

from dataclasses import dataclass

# --- vocabulary: foreign place names -----------------------------------------------------------


@dataclass(frozen=True)
class Family:
    """Syllables of a plausible place name: [prefix] root [link] suffix."""

    roots: tuple[str, ...]
    suffixes: tuple[str, ...]
    links: tuple[str, ...] = ("",)
    prefixes: tuple[str, ...] = ()
    prefix_rate: float = 0.0
    separator: str = ""  # " " for languages written as separate syllables (Vietnamese, Korean…)


def _split(words: str) -> tuple[str, ...]:
    return tuple(words.split("|")) if words else ()


def _f(roots: str, suffixes: str, links: str = "", prefixes: str = "", prefix_rate: float = 0.0,
       separator: str = "") -> Family:
    """A Family from |-separated syllables (compact enough to read a language's flavour at a glance)."""
    return Family(_split(roots), _split(suffixes), _split(links) or ("",), _split(prefixes), prefix_rate, separator)


FAMILIES = {
    "german": _f("Ber|Bir|Eschen|Fried|Hohen|Lin|Mar|Ros|Schön|Stein|Wald|Wil|Lud|Kirch|Mühl|Hein|Rein|Eber|Gern|Wolf|Hild|Wer|Lauf|Ems|Orten|Rot|Wein|Sand|Lichten|Tann|Geis|Hasel|Kalt|Alten|Bruck|Diet|Falken|Grün",
                 "dorf|heim|hausen|burg|berg|feld|stadt|bach|au|ingen|rode|hagen|kirchen|stein|brück|beck|born|tal|weiler|wald",
                 "||en|s|er", "Alt|Neu|Ober|Nieder|Groß|Klein|Bad |Sankt ", 0.25),
    "french": _f("Beau|Bel|Mont|Val|Roche|Fontaine|Marc|Cler|Ger|Char|Bri|Sau|Ver|Mar|Chât|Lan|Pla|Cor|Bois|Riv|Pon|Lu|Vil|Tour|Bour|Gran|Vau|Cha|Ber|Mou",
                 "ville|court|mont|ières|ac|y|eux|agne|ange|ois|elles|bert|val|lieu|mesnil|ancourt|igny|enay",
                 "||e|i", "Saint-|Sainte-|Le |La ", 0.2),
    "dutch": _f("Ber|Bos|Bree|Dor|Ede|Gel|Har|Hel|Hoog|Kamp|Lei|Mid|Noord|Oost|Ros|Stee|Ter|Wes|Zand|Zuid|Alk|Ven|Wa",
                "dam|dijk|hoven|kerk|broek|donk|wijk|veen|loo|rode|gem|ingen|zele|hem|voorde|beek|horst",
                "||en|s", "Sint-|Oud-|Nieuw-", 0.15),
    "english": _f("Ash|Brad|Bright|Cam|Chel|Dun|East|Elm|Fair|Glen|Green|Hamp|Kings|Lang|Mel|Mil|New|North|Ox|Ply|Red|Salt|Shel|Stan|Stock|Sut|Wal|West|Whit|Win|Wood|Brook|Bur|Crom|Dor|Hal",
                  "ton|field|bury|ford|ham|wick|ley|port|chester|borough|by|well|worth|mouth|stead|bridge|dale|combe|hurst",
                  "||ing|s", "Great |Little |Upper |Lower |Port |Mount ", 0.12),
    "italian": _f("Ber|Cas|Civi|Fio|Mon|Mar|Nov|Pal|Pie|Ros|Ser|Tor|Val|Vil|Lu|Gor|Bor|Col|Fab|Lat|Ter|Mez|Roc|Vic|Sal|Cer|Bel|Fon",
                  "ano|ello|ino|ola|ate|ara|ento|iano|ona|etto|ia|uzzo|asco|engo|one|ella|iglio",
                  "||er|it|agn", "San |Santa |Castel |Borgo |Monte |Villa |Porto ", 0.22),
    "spanish": _f("Al|Alcal|Ber|Cam|Cas|Cor|Fuen|Gua|Lor|Mar|Mon|Nav|Ol|Pal|Pe|Sal|Tor|Val|Vi|Cal|Mor|Lin|Oro|Zar|Ruz|Bena|Carta|Mede|Tala",
                  "ejo|illa|ares|ón|eda|ena|ero|al|anca|era|ina|osa|ilo|ega|ana|ado|uela",
                  "||b|r|nd", "San |Santa |Villa|Puerto |Villanueva de |Torre", 0.22),
    "portuguese": _f("Ama|Bar|Bra|Cas|Cor|Fa|Gui|Lou|Mar|Mon|Ol|Pe|Sal|San|Tor|Val|Vi|Alc|Ca|Ita|Itu|Ser|Pir",
                     "ão|ães|eira|inha|elo|ais|ola|al|ense|ima|oso|ada|ares|ado|uba|ena",
                     "||r|nt", "São |Santa |Vila |Porto |Rio |Ponte de ", 0.22),
    "nordic": _f("Ble|Bor|Es|Falk|Hals|Hel|Kal|Lin|Norr|Ros|Sol|Sten|Sund|Tor|Ul|Vä|Ny|Od|Kong|Sil|Var|Lund|Hög",
                 "by|borg|holm|köping|sund|vik|stad|ås|berg|fors|havn|strup|lev|sted|näs",
                 "||e|s"),
    "greek": _f("Ath|Kal|Kor|Lar|Mes|Nik|Pat|Ser|Tri|Vol|Ere|Kast|Mel|Pol|Ther|Argo|Chal|Dra|Xan|Kar|Lim",
                "ada|ia|ion|os|ena|oupoli|itsa|ides|amata|iko|ona|ari",
                "||on|ar"),
    "slavic_w": _f("Bia|Bole|Brze|Choj|Dąb|Gło|Gor|Jaro|Kam|Kra|Lub|Mił|Nowo|Ostro|Piotr|Rad|Sok|Star|Strze|Świe|Tar|Wol|Zam|Żar|Byd|Cze|Lesz|Prze|Ryb|Hra|Pre|Zla|Vel",
                   "ów|ice|owo|sk|in|ec|any|owice|ków|no|niki|ew|ica|ino|ava|ov|ac",
                   "||ol|ad|om", "Nowy |Stary |Velké |Nové ", 0.1),
    "baltic": _f("Pan|Kau|Šiau|Al|Vil|Tal|Val|Jel|Lie|Rak|Vent|Tart|Pär|Jur|Ogr|Kul|Dau|Rē",
                 "iai|nas|ys|ai|iena|ava|pils|ciems|vere|ma|la|ne|ai|ėnai",
                 "||ev|um"),
    "slavic_e": _f("Bel|Vol|Gor|Dmit|Zel|Ivan|Kras|Lip|Mos|Novo|Orel|Pet|Ros|Sam|Ser|Tver|Yar|Bor|Kam|Zhyt|Myr|Polt|Chern|Sum|Kiro",
                   "ovo|ovsk|ino|sk|grad|evo|yevsk|ets|opol|ov|any|ivka|ne|ograd|ovka",
                   "||ar|ol|in"),
    "romanian": _f("Bra|Buz|Cal|Câmp|Dor|Făl|Gal|Hun|Lug|Med|Mir|Pit|Rădă|Sib|Sig|Tur|Vas|Zal|Dum|Boto|Rom|Bistr|Vul|Arm|Orh|Ung",
                   "ești|eni|ani|ița|ău|uți|oaia|ișor|ari|ova|ea|ăuți|ana",
                   "||r|ul|in", "Valea |Baia |Vatra |Satu ", 0.12),
    "hungarian": _f("Bala|Deb|Eger|Gyo|Kecs|Mis|Sop|Szeg|Szol|Tata|Vác|Zala|Ba|Ke|Bé|Hód|Mező|Nagy|Kis|Tisza|Duna|Sár",
                    "ház|vár|falva|háza|halom|egyháza|kő|szeg|tó|hely|keresztúr|füred|patak|szállás",
                    "||e|a|o"),
    "caucasus": _f("Ar|Ash|Gyu|Ije|Kap|Mar|Sev|Ya|Vana|Ega|Tash|Nor|Go|Zug|Tela|Kuta|Ozur|Sam",
                   "ashat|tarak|van|adzor|ber|shen|avan|ri|eti|ani|ubani|uri|ovit|ayr",
                   "||ag|is"),
    "turkish": _f("Ak|Bey|Çan|Der|Es|Gök|Kara|Kır|Ala|Yeni|Sar|Bal|Ordu|Düz|Sol|Kum|Yıl|Tav|Ur|Sin",
                  "şehir|kale|köy|pınar|dere|ova|lar|ören|yurt|han|bük|tepe|dağ|hisar|ca|lı",
                  "||i|a"),
    "west_african": _f("Ba|Bo|Da|Di|Dou|Fa|Ga|Ka|Ki|Ko|Kou|La|Ma|Mo|Na|Ni|Ou|Sa|Si|So|Ta|Ti|To|Tou|Ya|Za|Ndi|Ngo|Dia|Sé|Ké|Bé|Tin|Nia|Fou|Dja|Gué|Kan|Sin|Bam|Dan|Mar|Nou|Yé",
                       "ga|gou|dougou|bougou|ko|né|mé|ré|la|ra|kro|fa|mbé|di|ta|ma|ni|ya|kou|ssé|ndé|ba|go|rou|bé|ndo|ri",
                       "||ra|ko|ma|ou|ne|ba|di"),
    "bantu": _f("Mba|Ngo|Ya|Bu|Ki|Ka|Lu|Mu|Nya|Ru|Ga|Bo|Ma|Ke|Du|Ebo|Ngu|Di|Mi|So|Ze|Lo|Be|Ndo|Kwa|Ta",
                "nde|mba|ngo|ala|ngi|ra|ze|ka|ni|lo|ba|ma|sa|nga|ti|mbi|ru|wa|kuru|shi",
                "||la|ba|nyi|ru|ko"),
    "malagasy": _f("Ambato|Ambohi|Anta|Antsi|Ambo|Fiana|Mahi|Ano|Ampa|Ankazo|Tsi|Mana|Vohi|Ampasi|Andra|Mora",
                   "tra|vo|mena|drano|be|lava|mandry|fotsy|mainty|nosy|rano|kely|tsara|bary|dona|lalana|fana|soa",
                   "||tsara|be|mena|rano|kely|lava"),
    "maghreb": _f("Bouz|Mel|Tar|Kha|Ham|Mans|Rab|Fadl|Zah|Sal|Tiz|Nad|Bek|Jaz|Kar|Mar|Tab|Das|Bas|Med|Sef|Tam|Zar",
                  "ara|ane|ouna|ia|ida|ine|out|alla|it|ma|ra|ek|oun|ia|rat|ghar",
                  "||d|l|r", "Aït |Sidi |Beni |Oued |Aïn |Bir |El |Ksar |Dar ", 0.4),
    "levant": _f("Bsh|Zah|Kar|Ham|Mar|Rab|Jab|Sal|Haz|Ash|Tar|Naq|Sur|Dam|Qab|Ras|Mash",
                 "ra|ayeh|oun|ine|iyeh|ane|ata|ara|iye|oud|ul|ah",
                 "||b|m|r", "Beit |Deir |Kfar |Tell |Ain |Al-|Khirbet ", 0.45),
    "vietnamese": _f("An|Binh|Cam|Dong|Hoa|Hung|Hai|Long|My|Nam|Phu|Phuoc|Quang|Son|Tan|Thanh|Thuan|Tien|Trung|Vinh|Xuan|Yen|Kim|Lac|Duc|Gia|Ha|Lam",
                     "An|Binh|Dong|Hoa|Hung|Hai|Long|My|Nam|Phu|Son|Tan|Thanh|Thuy|Tien|Trung|Vinh|Xuan|Yen|Lac|Duc|Giang|Ninh|Dinh|Lang",
                     separator=" "),
    "chinese": _f("An|Bao|Chang|Dong|Feng|Guang|Hai|Hua|Jiang|Jin|Kun|Lan|Long|Nan|Ning|Qing|Shan|Tai|Tian|Wu|Xi|Xin|Yang|Yun|Zhang|Zhen|Zhou|He|Ping|Yi",
                  "an|bao|chang|dong|feng|hai|hua|jiang|jin|lin|ning|qing|shan|tai|yang|yuan|zhou|ping|xing|de|chun|men",
                  "||g|n"),
    "japanese": _f("Aki|Asa|Fuji|Hama|Hiro|Ichi|Kami|Kawa|Kita|Matsu|Mina|Naka|Nishi|Oka|Saka|Shima|Taka|Toyo|Yama|Yoko|Kura|Sano|Higashi|Mori|Ota|Ise",
                   "hara|kawa|yama|saki|shima|mura|machi|zawa|oka|ta|da|no|moto|gawa|hashi|ura|ne|zaki|bashi|sawa"),
    "korean": _f("An|Bu|Cheon|Dae|Gang|Gim|Gwang|Ha|Jeon|Ju|Mok|Nam|Pyeong|Sun|Su|Won|Yang|Yeo|Gu|Seo|Po|Chang|Jin|Hwa",
                 "san|ju|won|cheon|po|do|hae|gu|chang|yang|seong|dong|ri|nam|gok|hwa",
                 "||g|n"),
    "sea": _f("Ban|Kam|Chan|Phon|Sam|Siem|Sa|Vien|Luang|Pak|Nong|Muang|Tha|Khon|Sisa|Prey|Svay|Kra|Ta|Thak|Sen|Ang",
              "pong|vang|kham|thong|sak|neua|rieng|chey|kaen|phan|bang|sai|veng|mon|lek|thom",
              separator=" "),
    "south_asian": _f("Ahmed|Bhu|Chan|Dhar|Gwa|Hyder|Jai|Kan|Luck|Madu|Nag|Pun|Raj|Shi|Uda|Vara|Bar|Mir|Sri|Kol|Ban|Dur|Pal|Sit",
                      "pur|abad|nagar|garh|kot|ganj|wal|kund|pet|ali|gram|pura|ore|bari|gaon",
                      "||am|an|ar"),
    "malay": _f("Ban|Ba|Su|Ta|Ma|Pa|Ke|Se|Bu|Lu|Ci|Ja|Me|Sa|Pe|Ko|Dal|Pon",
                "lang|rang|ndung|karta|wangi|baya|kan|dang|tam|gor|bun|laka|tan|dan|wan|pura",
                "||ma|la|ra|ga|ya", "Kota |San |Bandar ", 0.15),
    "pacific": _f("Lu|Na|Ta|Va|Po|Ma|Ka|Le|Sa|To|Lau|Nu|Fa|Pa|Ha|Ra",
                  "ganville|ville|tu|ka|lau|vai|ma|na|ua|lea|nui|tai|ro|ko",
                  "||la|ki|ua|ma"),
    "generic": _f("Al|Bar|Cor|Dar|Ka|Lor|Mar|Nor|Or|Pal|Sar|Tal|Var|Zan|Bel|Mir|Kor|Sam|Tor|Ula|Bay",
                  "an|ar|ia|ovo|abad|ino|ana|ek|ul|ora|on|ir|sk|en|ta",
                  "||d|r|l|s"),
}

# Style: the naming family and the forms of a partner's name, first the city form (used for the
# real names), then the other local ones, then regional-level forms (a share of partners).
STYLES = {
    "de": ("german", ("Stadt {}", "Gemeinde {}", "Stadt {}"), ("Landkreis {}",)),
    "at": ("german", ("Stadt {}", "Marktgemeinde {}", "Gemeinde {}"), ("Bezirk {}",)),
    "ch": ("french", ("Ville de {}", "Commune de {}"), ("Canton de {}",)),
    "it": ("italian", ("Comune di {}", "Comune di {}"), ("Provincia di {}",)),
    "es": ("spanish", ("Ayuntamiento de {}", "Ayuntamiento de {}", "Mancomunidad de {}"), ("Diputación de {}",)),
    "pt": ("portuguese", ("Câmara Municipal de {}", "Município de {}"), ("Comunidade Intermunicipal de {}",)),
    "gb": ("english", ("{} City Council", "{} Town Council", "{} Borough Council", "{} District Council"), ("{} County Council",)),
    "ie": ("english", ("{} City Council", "{} Town Council"), ("{} County Council",)),
    "us": ("english", ("City of {}", "Town of {}", "City of {}"), ("{} County",)),
    "be": ("french", ("Ville de {}", "Commune de {}"), ("Province de {}",)),
    "nl": ("dutch", ("Gemeente {}",), ("Provincie {}",)),
    "lu": ("french", ("Ville de {}", "Commune de {}"), ()),
    "nordic": ("nordic", ("Ville de {}", "Municipalité de {}"), ("Comté de {}",)),
    "gr": ("greek", ("Municipalité de {}", "Dème de {}"), ("Région de {}",)),
    "pl": ("slavic_w", ("Miasto {}", "Gmina {}", "Gmina {}"), ("Powiat {}",)),
    "cz": ("slavic_w", ("Ville de {}", "Commune de {}"), ("Région de {}",)),
    "balkan": ("slavic_w", ("Ville de {}", "Municipalité de {}"), ("Région de {}",)),
    "baltic": ("baltic", ("Ville de {}", "Municipalité de {}"), ("District de {}",)),
    "east_slavic": ("slavic_e", ("Ville de {}", "Municipalité de {}"), ("Région de {}",)),
    "ro": ("romanian", ("Primăria {}", "Comuna {}", "Comuna {}"), ("Consiliul Județean {}",)),
    "hu": ("hungarian", ("Ville de {}", "Commune de {}"), ("Comitat de {}",)),
    "caucasus": ("caucasus", ("Ville de {}", "Communauté de {}"), ("Région de {}",)),
    "tr": ("turkish", ("Municipalité de {}", "Municipalité de {}"), ("Province de {}",)),
    "afr_fr": ("west_african", ("Commune de {}", "Commune rurale de {}", "Commune urbaine de {}", "Commune de {}"),
               ("Région de {}", "Département de {}", "Province de {}", "Cercle de {}")),
    "afr_en": ("bantu", ("Ville de {}", "Municipalité de {}", "District de {}"), ("Province de {}",)),
    "afr_pt": ("portuguese", ("Câmara Municipal de {}", "Município de {}"), ("Província de {}",)),
    "mg": ("malagasy", ("Commune urbaine de {}", "Commune rurale de {}", "Commune rurale de {}"), ("Région {}",)),
    "ma": ("maghreb", ("Commune de {}", "Commune urbaine de {}", "Commune rurale de {}"), ("Province de {}", "Région de {}")),
    "dz": ("maghreb", ("Commune de {}", "APC de {}"), ("Wilaya de {}",)),
    "tn": ("maghreb", ("Municipalité de {}", "Municipalité de {}"), ("Gouvernorat de {}",)),
    "levant": ("levant", ("Municipalité de {}", "Municipalité de {}", "Union des municipalités de {}"), ("Gouvernorat de {}",)),
    "vn": ("vietnamese", ("Ville de {}", "District de {}"), ("Province de {}",)),
    "cn": ("chinese", ("Ville de {}", "District de {}"), ("Province du {}",)),
    "jp": ("japanese", ("Ville de {}", "Ville de {}"), ("Préfecture de {}",)),
    "kr": ("korean", ("Ville de {}",), ("Province de {}",)),
    "sea": ("sea", ("Ville de {}", "District de {}"), ("Province de {}",)),
    "south_asia": ("south_asian", ("Ville de {}", "Municipalité de {}"), ("District de {}",)),
    "malay": ("malay", ("Ville de {}", "Municipalité de {}"), ("Province de {}",)),
    "ca": ("french", ("Ville de {}", "Municipalité de {}"), ("MRC de {}",)),
    "br": ("portuguese", ("Prefeitura de {}", "Município de {}"), ("Estado de {}",)),
    "latam": ("spanish", ("Municipalidad de {}", "Alcaldía de {}"), ("Departamento de {}", "Provincia de {}")),
    "ht": ("french", ("Commune de {}", "Commune de {}"), ("Département de {}",)),
    "pacific": ("pacific", ("Municipalité de {}", "Commune de {}"), ("Province de {}",)),
    "generic": ("generic", ("Ville de {}", "Municipalité de {}"), ("Province de {}",)),
}
REGIONAL_PARTNER_RATE = 0.12

# Real cities, most often partners first, for the countries French collectivités work with most.
REAL_PLACES = {
    "DE": "Berlin|Hamburg|München|Köln|Frankfurt am Main|Stuttgart|Düsseldorf|Leipzig|Dresden|Hannover|Nürnberg|Bremen|Essen|Dortmund|Mainz|Wiesbaden|Saarbrücken|Freiburg im Breisgau|Karlsruhe|Heidelberg|Trier|Aachen|Bonn|Potsdam|Erfurt|Würzburg|Regensburg|Augsburg|Kiel|Rostock|Magdeburg|Osnabrück|Münster|Bamberg|Konstanz|Ludwigsburg|Tübingen|Göttingen|Jena|Speyer",
    "IT": "Roma|Milano|Torino|Genova|Firenze|Napoli|Bologna|Venezia|Verona|Palermo|Bari|Parma|Pisa|Siena|Perugia|Trento|Bergamo|Brescia|Cagliari|Lecce|Ravenna|Modena|Padova|Cuneo|Aosta|Savona|La Spezia|Udine|Ancona|Sassari",
    "GB": "Edinburgh|Glasgow|Manchester|Birmingham|Bristol|Cardiff|Leeds|Liverpool|Oxford|Cambridge|Exeter|Plymouth|Southampton|Portsmouth|Brighton and Hove|Canterbury|York|Bath|Chester|Dundee|Aberdeen|Swansea|Nottingham|Norwich|Winchester|Guildford|Reading",
    "ES": "Madrid|Barcelona|Valencia|Sevilla|Zaragoza|Bilbao|Málaga|Granada|Salamanca|Valladolid|Oviedo|Santander|Pamplona|San Sebastián|Girona|Lleida|Huesca|Jaca|Córdoba|Alicante|Murcia|Burgos|León|Vitoria-Gasteiz|Tarragona|Cáceres|Toledo|Segovia",
    "PL": "Warszawa|Kraków|Łódź|Wrocław|Poznań|Gdańsk|Szczecin|Lublin|Katowice|Białystok|Opole|Rzeszów|Toruń|Kielce|Olsztyn|Bydgoszcz|Gniezno|Zamość|Tarnów|Nowy Sącz",
    "BE": "Liège|Namur|Mons|Charleroi|Tournai|Ottignies-Louvain-la-Neuve|Arlon|Bastogne|Dinant|Wavre|Mouscron|Gent|Brugge|Antwerpen|Leuven|Kortrijk|Spa|Huy|Verviers|Ath",
    "PT": "Lisboa|Porto|Coimbra|Braga|Aveiro|Évora|Faro|Viseu|Guimarães|Setúbal|Leiria|Funchal|Viana do Castelo|Bragança|Castelo Branco|Guarda|Vila Real",
    "RO": "Cluj-Napoca|Iași|Timișoara|Sibiu|Brașov|Constanța|Craiova|Oradea|Arad|Suceava|Bacău|Alba Iulia|Târgu Mureș|Piatra Neamț|Botoșani|Galați|Baia Mare|Deva",
    "SN": "Dakar|Saint-Louis|Thiès|Ziguinchor|Kaolack|Louga|Matam|Podor|Tambacounda|Kolda|Fatick|Diourbel|Kédougou|Sédhiou|Rufisque|Mbour|Bakel|Dagana|Richard-Toll|Joal-Fadiouth",
    "BF": "Ouagadougou|Bobo-Dioulasso|Koudougou|Ouahigouya|Kaya|Banfora|Fada N'Gourma|Dédougou|Tenkodogo|Dori|Gaoua|Ziniaré|Réo|Yako|Kongoussi|Diébougou|Manga|Pô|Léo|Koupéla|Boromo|Houndé",
    "ML": "Bamako|Kayes|Ségou|Sikasso|Mopti|Tombouctou|Gao|Koulikoro|Kita|Nioro du Sahel|Djenné|Bougouni|San|Koutiala|Kati|Bafoulabé|Yélimané|Diéma",
    "MA": "Rabat|Casablanca|Marrakech|Fès|Agadir|Tanger|Meknès|Oujda|Tétouan|Essaouira|Ouarzazate|Chefchaouen|Safi|El Jadida|Taroudant|Errachidia|Kénitra|Larache|Tiznit",
    "MG": "Antananarivo|Toamasina|Mahajanga|Fianarantsoa|Antsirabe|Toliara|Antsiranana|Ambositra|Morondava|Taolagnaro|Sambava|Manakara|Ambatondrazaka|Moramanga|Miarinarivo",
    "BJ": "Cotonou|Porto-Novo|Abomey|Parakou|Ouidah|Djougou|Natitingou|Bohicon|Lokossa|Kandi|Savalou|Dassa-Zoumè|Allada|Grand-Popo|Comè|Malanville",
    "NE": "Niamey|Zinder|Maradi|Agadez|Tahoua|Dosso|Tillabéri|Diffa|Birni N'Konni|Tessaoua|Filingué|Say|Gaya|Madaoua",
    "HT": "Port-au-Prince|Cap-Haïtien|Jacmel|Les Cayes|Gonaïves|Jérémie|Saint-Marc|Léogâne|Hinche|Port-de-Paix|Petit-Goâve|Fort-Liberté|Miragoâne|Pétion-Ville|Limbé|Aquin",
    "VN": "Hanoï|Hô Chi Minh-Ville|Huê|Da Nang|Haiphong|Cân Tho|Lao Cai|Hai Duong|Nam Dinh|Bac Ninh|Ha Long|Dà Lat|Ninh Binh|Vinh|Hôi An",
    "CN": "Pékin|Shanghai|Wuhan|Chengdu|Canton|Shenzhen|Xi'an|Nankin|Hangzhou|Suzhou|Qingdao|Dalian|Tianjin|Chongqing|Kunming|Harbin|Jinan|Shenyang|Ningbo|Xiamen|Changsha|Zhuhai",
    "JP": "Kyoto|Osaka|Nagoya|Yokohama|Kobe|Sapporo|Fukuoka|Sendai|Hiroshima|Nagasaki|Kanazawa|Nara|Okayama|Kumamoto|Niigata|Matsue|Kagoshima|Shizuoka|Hamamatsu|Takamatsu|Toyama|Aomori",
    "CA": "Québec|Montréal|Gatineau|Sherbrooke|Trois-Rivières|Saguenay|Lévis|Laval|Rimouski|Drummondville|Granby|Rouyn-Noranda|Moncton|Ottawa|Toronto|Vancouver|Winnipeg|Halifax|Edmonton|Victoria|Saint-Jean-sur-Richelieu|Magog|Shawinigan",
    "US": "New York|Boston|Chicago|San Francisco|Los Angeles|Philadelphia|Atlanta|New Orleans|Houston|Seattle|Portland|Baltimore|Pittsburgh|Louisville|Lafayette|Saint Louis|Charleston|Savannah|Austin|Denver|Minneapolis|Rochester|Burlington|Madison",
    "TN": "Tunis|Sfax|Sousse|Kairouan|Bizerte|Gabès|Monastir|Nabeul|Mahdia|Tozeur|Médenine|Jendouba|Kasserine|Gafsa|Béja|Le Kef|Sidi Bouzid|Tabarka",
    "CM": "Yaoundé|Douala|Bafoussam|Garoua|Maroua|Ngaoundéré|Bamenda|Buea|Dschang|Kribi|Bertoua|Ebolowa|Edéa|Foumban|Limbé|Mbalmayo|Nkongsamba",
    "DZ": "Alger|Oran|Constantine|Annaba|Tlemcen|Béjaïa|Sétif|Tizi Ouzou|Batna|Blida|Mostaganem|Ghardaïa|Biskra|Skikda|Tamanrasset",
    "HU": "Budapest|Debrecen|Szeged|Pécs|Győr|Miskolc|Eger|Kecskemét|Szombathely|Sopron|Veszprém|Székesfehérvár|Nyíregyháza|Szolnok",
    "IE": "Dublin|Cork|Galway|Limerick|Waterford|Kilkenny|Sligo|Wexford|Athlone|Tralee|Killarney|Drogheda|Dundalk|Ennis|Kinsale",
    "LB": "Beyrouth|Tripoli|Saïda|Tyr|Zahlé|Byblos|Baalbek|Jounieh|Batroun|Zgharta|Nabatieh|Jezzine",
    "PS": "Bethléem|Naplouse|Ramallah|Hébron|Jéricho|Jénine|Gaza|Qalqilya|Tulkarem|Beit Sahour|Beit Jala|Al-Bireh",
}
