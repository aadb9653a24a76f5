"""Other libraries' calling conventions on face_trigger's models.

``import face_trigger.compat.face_recognition as face_recognition`` runs code written for
face_recognition 1.3 (see :mod:`face_trigger.compat.face_recognition`).
"""
