"""The main job's stand-in for Pix Certif: the filled sessions file, in Pix's shapes, one per seed."""

from __future__ import annotations

import csv
import io
import re

from deploy.local.pix_certif import PIX_NUMBER_BASE, fill, pix_values

EXPORTED = (
    "\ufeffNuméro de session certibus;* Nom du site;* Nom de la salle;* Date de début (format: JJ/MM/AAAA);"
    "* Heure de début (heure locale format: HH:MM);* Surveillant(s);Classe(s);Candidats;"
    "Numéro de session Pix;Code d'accès;Mot de passe de session\n"
    "12;Bâtiment A;Salle 101;16/03/2027;08:30;Mme Dupré;3A;24;;;\n"
    "13;Bâtiment A;CDI;16/03/2027;08:30;M. Martin, Mme Cœur;3B, 3C;30;;;\n"
).encode()


def test_the_filled_file_has_pix_values_in_pix_shapes_and_is_the_same_for_one_seed():
    filled = fill(EXPORTED, 2027, "0750001U")
    assert filled == fill(EXPORTED, 2027, "0750001U") != fill(EXPORTED, 7, "0750001U")
    header, *lines = list(csv.reader(io.StringIO(filled.decode("utf-8-sig")), delimiter=";"))
    exported = list(csv.reader(io.StringIO(EXPORTED.decode("utf-8-sig")), delimiter=";"))[1:]
    assert filled.startswith("\ufeff".encode()) and header[8:] == [
        "Numéro de session Pix",
        "Code d'accès",
        "Mot de passe de session",
    ]
    for line, certibus in zip(lines, (12, 13), strict=True):
        assert line[:8] == exported[certibus - 12][:8]  # what certibus wrote is kept
        number, code, password = pix_values(2027, "0750001U", certibus)
        assert line[8:] == [str(number), code, "C-" + password]
        assert number > PIX_NUMBER_BASE
        assert re.fullmatch(r"[BCDFGHJKMPQRTVWXY]{4}[2346789]{2}", code)
        assert re.fullmatch(r"[23456789bcdfghjkmpqrstvwxyBCDFGHJKMPQRSTVWXY!*?]{6}", password)
        assert len(set(password)) == 6
    assert lines[0][8] != lines[1][8]
