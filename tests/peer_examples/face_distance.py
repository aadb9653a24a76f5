# face_recognition's "face distance" example, as its documentation shows it: how far an
# unknown face is from known ones, with the normal 0.6 and the strict 0.5 cut-offs.
import sys

import face_recognition

known = [face_recognition.face_encodings(face_recognition.load_image_file(path))[0]
         for path in sys.argv[1:3]]
unknown = face_recognition.face_encodings(face_recognition.load_image_file(sys.argv[3]))[0]
face_distances = face_recognition.face_distance(known, unknown)
for i, face_distance in enumerate(face_distances):
    print("The test image has a distance of {:.2} from known image #{}".format(face_distance, i))
    print("- With a normal cutoff of 0.6, would the test image match the known image? {}"
          .format(face_distance < 0.6))
    print("- With a very strict cutoff of 0.5, would the test image match the known image? {}"
          .format(face_distance < 0.5))
