"""Vocabulary: French first and last names, and the titles of elected officials and staff."""
from __future__ import annotations

# --- vocabulary: French people and titles --------------------------------------------------------

FIRST_NAMES_F = (
    "Marie Nathalie Isabelle Sylvie Catherine Françoise Christine Monique Valérie Sandrine Véronique "
    "Sophie Stéphanie Céline Aurélie Julie Émilie Anne Martine Laurence Hélène Claire Élisabeth Florence "
    "Corinne Patricia Agnès Brigitte Nicole Dominique Caroline Virginie Karine Delphine Marion Camille "
    "Pauline Laure Chantal Béatrice Fatima Leïla Nadia"
).split()
FIRST_NAMES_M = (
    "Jean Philippe Michel Alain Patrick Nicolas Christophe Pierre Christian Éric Laurent Frédéric "
    "Stéphane David Olivier Pascal Thierry Daniel Bernard Jacques Jean-Pierre Jean-Luc Jean-Marc Didier "
    "Dominique Gérard Bruno Serge Franck Sébastien Vincent Julien Thomas François Yves Gilles Hervé "
    "Denis André Marc Karim Mohamed Antoine"
).split()
_LAST_NAMES = (
    "Martin Bernard Thomas Petit Robert Richard Durand Dubois Moreau Laurent Simon Michel Lefebvre Leroy "
    "Roux David Bertrand Morel Fournier Girard Bonnet Dupont Lambert Fontaine Rousseau Vincent Muller "
    "Lefèvre Faure André Mercier Blanc Guérin Boyer Garnier Chevalier François Legrand Gauthier Garcia "
    "Perrin Robin Clément Morin Nicolas Henry Roussel Mathieu Gautier Masson Marchand Duval Denis Dumont "
    "Marie Lemaire Noël Meyer Dufour Meunier Brun Blanchard Giraud Joly Rivière Lucas Brunet Gaillard "
    "Barbier Arnaud Martinez Gérard Roche Renard Schmitt Roy Leroux Colin Vidal Caron Picard Roger Fabre "
    "Aubert Lemoine Renaud Dumas Lacroix Olivier Philippe Bourgeois Pierre Benoît Rey Leclerc Payet "
    "Hoarau Le_Gall Le_Goff Le_Roux Kerbrat Ferrand Haddad Benali Nguyen Da_Silva Ferreira Santini Paoli"
)
LAST_NAMES = [name.replace("_", " ") for name in _LAST_NAMES.split()]

# (masculine, feminine) titles by kind of collectivité and role; the first élu title is the
# executive's, given only to the first contact.
TITLES = {
    "commune": {
        "elu": [
            ("Maire", "Maire"),
            ("Maire adjoint chargé des relations internationales", "Maire adjointe chargée des relations internationales"),
            ("Adjoint au maire délégué aux jumelages", "Adjointe au maire déléguée aux jumelages"),
            ("Conseiller municipal délégué à la coopération décentralisée", "Conseillère municipale déléguée à la coopération décentralisée"),
        ],
        "cadre": [
            ("Chargé de mission coopération décentralisée", "Chargée de mission coopération décentralisée"),
            ("Directeur des relations internationales", "Directrice des relations internationales"),
            ("Responsable du service jumelages et relations internationales", "Responsable du service jumelages et relations internationales"),
            ("Directeur général des services", "Directrice générale des services"),
        ],
    },
    "epci": {
        "elu": [
            ("Président", "Présidente"),
            ("Vice-président en charge de la coopération", "Vice-présidente en charge de la coopération"),
            ("Conseiller communautaire délégué aux relations internationales", "Conseillère communautaire déléguée aux relations internationales"),
        ],
        "cadre": [
            ("Chargé de mission relations internationales", "Chargée de mission relations internationales"),
            ("Directeur des relations internationales", "Directrice des relations internationales"),
            ("Directeur général des services", "Directrice générale des services"),
        ],
    },
    "departement": {
        "elu": [
            ("Président du conseil général", "Présidente du conseil général"),
            ("Vice-président du conseil général chargé des relations internationales", "Vice-présidente du conseil général chargée des relations internationales"),
            ("Conseiller général délégué à la coopération décentralisée", "Conseillère générale déléguée à la coopération décentralisée"),
        ],
        "cadre": [
            ("Directeur des relations internationales et européennes", "Directrice des relations internationales et européennes"),
            ("Chargé de mission coopération décentralisée", "Chargée de mission coopération décentralisée"),
            ("Responsable du service des affaires européennes et internationales", "Responsable du service des affaires européennes et internationales"),
        ],
    },
    "region": {
        "elu": [
            ("Président du conseil régional", "Présidente du conseil régional"),
            ("Vice-président en charge de la coopération et des relations internationales", "Vice-présidente en charge de la coopération et des relations internationales"),
            ("Conseiller régional délégué à la solidarité internationale", "Conseillère régionale déléguée à la solidarité internationale"),
        ],
        "cadre": [
            ("Directeur des relations internationales", "Directrice des relations internationales"),
            ("Chargé de mission coopération décentralisée", "Chargée de mission coopération décentralisée"),
            ("Chargé de mission Afrique", "Chargée de mission Afrique"),
            ("Chef du service coopération internationale", "Cheffe du service coopération internationale"),
        ],
    },
}
