"""Préfectures: their directory, the circular each receives, and the report on its territory.

In the real campaign the ministry writes to the préfets, who pass the circular on to the collectivités
of their territory. A préfecture's territory is its département's collectivités (communes, EPCI, the
département itself); the préfecture de région (`is_region_seat`) also has the région.

Modules: `directory` (the CSV directory), `territory` (who is in a préfecture's territory, and
their status), `circular` (the letter each préfecture receives), `report` (its territory's progress).

Figures come from `mailbot.outbound.campaign.target_states`, the same rows `campaign status` counts, so a
territory's report always agrees with the campaign's status.
"""
