# face_recognition's "recognise faces in a video file" example: every frame, every face,
# compared with the known face at tolerance 0.50. (Its published `frame[:, :, ::-1]` view is
# refused by dlib 20, which needs contiguous arrays: cvtColor here, as its users do.)
import sys

import cv2

import face_recognition

known_faces = [face_recognition.face_encodings(face_recognition.load_image_file(sys.argv[2]))[0]]
input_movie = cv2.VideoCapture(sys.argv[1])
frame_number = 0
while True:
    ret, frame = input_movie.read()
    if not ret:
        break
    rgb_frame = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    face_locations = face_recognition.face_locations(rgb_frame)
    face_encodings = face_recognition.face_encodings(rgb_frame, face_locations)
    face_names = []
    for face_encoding in face_encodings:
        match = face_recognition.compare_faces(known_faces, face_encoding, tolerance=0.50)
        face_names.append("obama" if match[0] else "unknown")
    print("frame {}: {}".format(frame_number, ", ".join(face_names) or "-"))
    frame_number += 1
input_movie.release()
