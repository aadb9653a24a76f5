# face_recognition's "find faces in a picture" example, at its defaults.
import sys

import face_recognition

image = face_recognition.load_image_file(sys.argv[1])
face_locations = face_recognition.face_locations(image)
print("I found {} face(s) in this photograph.".format(len(face_locations)))
