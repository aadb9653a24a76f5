# face_recognition's k-nearest-neighbours example: train a KNN classifier on a folder of
# people (one face per photo), then name the faces of test photos, a face farther than
# distance_threshold=0.6 from every known one being "unknown".
import math
import os
import sys

from sklearn import neighbors

import face_recognition
from face_recognition.face_recognition_cli import image_files_in_folder


def train(train_dir):
    X, y = [], []
    for class_dir in sorted(os.listdir(train_dir)):
        if not os.path.isdir(os.path.join(train_dir, class_dir)):
            continue
        for img_path in sorted(image_files_in_folder(os.path.join(train_dir, class_dir))):
            image = face_recognition.load_image_file(img_path)
            face_bounding_boxes = face_recognition.face_locations(image)
            if len(face_bounding_boxes) != 1:
                continue
            X.append(face_recognition.face_encodings(
                image, known_face_locations=face_bounding_boxes)[0])
            y.append(class_dir)
    n_neighbors = int(round(math.sqrt(len(X))))
    knn_clf = neighbors.KNeighborsClassifier(n_neighbors=n_neighbors, algorithm="ball_tree",
                                             weights="distance")
    knn_clf.fit(X, y)
    return knn_clf


def predict(X_img_path, knn_clf, distance_threshold=0.6):
    X_img = face_recognition.load_image_file(X_img_path)
    X_face_locations = face_recognition.face_locations(X_img)
    if len(X_face_locations) == 0:
        return []
    faces_encodings = face_recognition.face_encodings(X_img,
                                                      known_face_locations=X_face_locations)
    closest_distances = knn_clf.kneighbors(faces_encodings, n_neighbors=1)
    are_matches = [closest_distances[0][i][0] <= distance_threshold
                   for i in range(len(X_face_locations))]
    return [(pred, loc) if rec else ("unknown", loc) for pred, loc, rec in
            zip(knn_clf.predict(faces_encodings), X_face_locations, are_matches)]


classifier = train(sys.argv[1])
for image_file in sorted(os.listdir(sys.argv[2])):
    predictions = predict(os.path.join(sys.argv[2], image_file), classifier)
    print("{}: {}".format(image_file, ", ".join(sorted(name for name, _ in predictions))))
